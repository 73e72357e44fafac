"""The built-in store: four gondolas of load-cell plates, a catalogue and a door.

Everything here is generated for this project: the layout, product names,
weights and prices are made up to look like a small grocery store. Each
product's ``vision_class`` is a fine class name of the Grocery Store
Dataset (Klasson, Zhang and Kjellström, WACV 2019, 81 classes), so a
product recogniser trained on that dataset has a label for every product.

Floor plan (metres, x east, y north, the door in the south wall)::

    y=6.0 +-----------------------------------------+
          |              north aisle                |
    y=4.0 |     [ G3 faces north ]  [ G4 faces north ]
          |     [ G1 faces south ]  [ G2 faces south ]
    y=2.0 |              south aisle                |
          |           entry [door] exit             |
    y=0.0 +-----------------------------------------+
          x=0                                   x=6.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from walkout.recording.model import Facing, Plate, Product, Store, StoreInfo, Zone

logger = logging.getLogger(__name__)

PLATE_WIDTH_M = 0.1016
"""Width of one plate along the shelf (4 inches, as in AiFi's NanoStore)."""

PLATE_DEPTH_M = 0.4064
"""Depth of one plate from the shelf front to its back (16 inches)."""

PLATES_PER_SHELF = 6
SHELF_HEIGHTS_M = (0.35, 0.70, 1.05, 1.40, 1.75)
"""Height of each shelf's plate tops above the floor, shelf 1 lowest."""

MAX_PLATE_LOAD_G = 20000.0
"""Rated load of one plate's load cell (20 kg, like the NanoStore cells)."""

STAFF_ACCOUNT = "staff-1"


@dataclass(frozen=True)
class GondolaLayout:
    """Where one gondola stands and which way its shelves face.

    ``front_y`` is the y of the shelf fronts, ``facing`` is -1 when shoppers
    stand south of it (smaller y) and +1 when they stand north of it.
    """

    number: int
    x_start: float
    front_y: float
    facing: int

    @property
    def stand_y(self) -> float:
        """Return the y at which a shopper stands to reach this gondola."""
        return self.front_y + self.facing * STAND_OFF_M


STAND_OFF_M = 0.45
"""Distance from a shelf front to the body centre of a shopper reaching it."""

GONDOLAS = (
    GondolaLayout(1, x_start=1.00, front_y=2.00, facing=-1),
    GondolaLayout(2, x_start=4.00, front_y=2.00, facing=-1),
    GondolaLayout(3, x_start=1.00, front_y=4.00, facing=+1),
    GondolaLayout(4, x_start=4.00, front_y=4.00, facing=+1),
)

ENTRY_ZONE = ((2.1, 0.0), (2.9, 0.0), (2.9, 0.6), (2.1, 0.6))
EXIT_ZONE = ((3.1, 0.0), (3.9, 0.0), (3.9, 0.6), (3.1, 0.6))
STORE_SIZE_M = (6.0, 6.0)


@dataclass(frozen=True)
class CatalogueRow:
    """One product of the built-in catalogue and the shelf that carries it.

    ``plates`` is how many neighbouring plates its facing covers (1 or 2),
    ``weight_sd_pct`` the spread of one unit's weight in percent of its mean.
    """

    gondola: int
    shelf: int
    plates: int
    name: str
    vision_class: str
    weight_g: float
    weight_sd_pct: float
    price: str
    qty: int


# Facings fill each shelf from plate 1 in the order listed. Adjacent rows with
# weights within 2 % of each other (potatoes, carrots and onions, peppers,
# milk and yoghurt cartons, juices) are deliberate look-alikes.
CATALOGUE: tuple[CatalogueRow, ...] = (
    # Gondola 1: fruit.
    CatalogueRow(1, 1, 2, "Watermelon Half", "Watermelon", 1950, 4.5, "4.99", 4),
    CatalogueRow(1, 1, 2, "Honeydew Melon", "Honeydew-Melon", 1650, 4.0, "3.99", 4),
    CatalogueRow(1, 1, 1, "Pineapple", "Pineapple", 1450, 3.5, "3.49", 4),
    CatalogueRow(1, 1, 1, "Cantaloupe Melon", "Cantaloupe", 1100, 3.0, "2.99", 5),
    CatalogueRow(1, 2, 2, "Galia Melon", "Galia-Melon", 950, 3.0, "2.79", 5),
    CatalogueRow(1, 2, 1, "Papaya", "Papaya", 480, 3.0, "2.49", 6),
    CatalogueRow(1, 2, 1, "Pomegranate", "Pomegranate", 330, 2.5, "1.99", 8),
    CatalogueRow(1, 2, 1, "Red Grapefruit", "Red-Grapefruit", 400, 2.5, "1.29", 8),
    CatalogueRow(1, 2, 1, "Mango", "Mango", 390, 2.5, "1.49", 8),
    CatalogueRow(
        1,
        3,
        1,
        "Golden Delicious Apples 4-pack",
        "Golden-Delicious",
        760,
        1.8,
        "3.49",
        6,
    ),
    CatalogueRow(
        1, 3, 1, "Granny Smith Apples 4-pack", "Granny-Smith", 772, 1.8, "3.49", 6
    ),
    CatalogueRow(1, 3, 1, "Pink Lady Apples 4-pack", "Pink-Lady", 820, 1.6, "3.99", 6),
    CatalogueRow(
        1, 3, 1, "Red Delicious Apples 4-pack", "Red-Delicious", 800, 1.6, "3.49", 6
    ),
    CatalogueRow(
        1, 3, 1, "Royal Gala Apples 4-pack", "Royal-Gala", 740, 1.7, "3.29", 6
    ),
    CatalogueRow(1, 3, 1, "Oranges 3-pack", "Orange", 690, 2.0, "2.99", 6),
    CatalogueRow(1, 4, 2, "Bananas Bunch of 5", "Banana", 850, 3.0, "1.29", 6),
    CatalogueRow(1, 4, 1, "Kiwi 6-pack", "Kiwi", 480, 1.5, "2.99", 8),
    CatalogueRow(1, 4, 1, "Nectarines 4-pack", "Nectarine", 560, 2.0, "3.29", 8),
    CatalogueRow(1, 4, 1, "Peaches 4-pack", "Peach", 580, 2.0, "3.29", 8),
    CatalogueRow(1, 4, 1, "Plums 6-pack", "Plum", 420, 1.5, "2.79", 8),
    CatalogueRow(1, 5, 1, "Avocados 2-pack", "Avocado", 380, 2.0, "2.99", 10),
    CatalogueRow(1, 5, 1, "Lemons 3-pack", "Lemon", 330, 1.5, "1.99", 10),
    CatalogueRow(1, 5, 1, "Limes 4-pack", "Lime", 260, 1.5, "1.99", 10),
    CatalogueRow(
        1, 5, 1, "Passion Fruit 3-pack", "Passion-Fruit", 135, 1.1, "2.49", 12
    ),
    CatalogueRow(1, 5, 1, "Satsumas 600 g Net", "Satsumas", 612, 1.0, "2.19", 8),
    CatalogueRow(1, 5, 1, "Anjou Pear", "Anjou", 210, 4.0, "0.89", 12),
    # Gondola 2: vegetables.
    CatalogueRow(2, 1, 2, "Cabbage Head", "Cabbage", 1250, 4.5, "1.49", 4),
    CatalogueRow(
        2, 1, 2, "Floury Potatoes 2 kg Bag", "Floury-Potato", 2000, 1.0, "2.49", 4
    ),
    CatalogueRow(
        2, 1, 2, "Solid Potatoes 2 kg Bag", "Solid-Potato", 1995, 1.0, "2.49", 4
    ),
    CatalogueRow(2, 2, 1, "Sweet Potato", "Sweet-Potato", 450, 5.0, "1.19", 8),
    CatalogueRow(
        2, 2, 2, "Yellow Onions 1 kg Net", "Yellow-Onion", 1010, 1.1, "1.29", 6
    ),
    CatalogueRow(2, 2, 2, "Carrots 1 kg Bag", "Carrots", 1005, 1.0, "1.19", 6),
    CatalogueRow(2, 2, 1, "Red Beets 500 g", "Red-Beet", 505, 1.0, "1.49", 8),
    CatalogueRow(2, 3, 1, "Cucumber", "Cucumber", 340, 3.5, "0.99", 10),
    CatalogueRow(2, 3, 1, "Zucchini", "Zucchini", 280, 3.5, "0.99", 10),
    CatalogueRow(2, 3, 1, "Aubergine", "Aubergine", 300, 3.5, "1.29", 10),
    CatalogueRow(2, 3, 1, "Leek", "Leek", 240, 3.0, "0.99", 10),
    CatalogueRow(2, 3, 1, "Green Asparagus 250 g", "Asparagus", 255, 1.5, "3.99", 8),
    CatalogueRow(
        2, 3, 1, "Brown Cap Mushrooms 250 g", "Brown-Cap-Mushroom", 258, 1.0, "1.99", 8
    ),
    CatalogueRow(
        2, 4, 1, "Green Bell Pepper", "Green-Bell-Pepper", 170, 3.0, "0.79", 12
    ),
    CatalogueRow(2, 4, 1, "Red Bell Pepper", "Red-Bell-Pepper", 172, 3.0, "0.99", 12),
    CatalogueRow(
        2, 4, 1, "Yellow Bell Pepper", "Yellow-Bell-Pepper", 180, 3.0, "0.99", 12
    ),
    CatalogueRow(
        2, 4, 1, "Orange Bell Pepper", "Orange-Bell-Pepper", 178, 3.0, "0.99", 12
    ),
    CatalogueRow(2, 4, 1, "Beef Tomato", "Beef-Tomato", 250, 3.0, "0.89", 10),
    CatalogueRow(2, 4, 1, "Vine Tomatoes 500 g", "Vine-Tomato", 515, 1.1, "2.49", 8),
    CatalogueRow(2, 5, 1, "Tomatoes 6-pack", "Regular-Tomato", 480, 1.1, "1.99", 8),
    CatalogueRow(2, 5, 1, "Garlic 3-pack", "Garlic", 150, 2.0, "1.19", 12),
    CatalogueRow(2, 5, 1, "Fresh Ginger Root", "Ginger", 95, 4.0, "0.69", 12),
    CatalogueRow(2, 5, 1, "Garlic Bulb", "Garlic", 48, 2.5, "0.45", 12),
    CatalogueRow(2, 5, 1, "Kaiser Pear", "Kaiser", 220, 4.0, "0.89", 12),
    CatalogueRow(2, 5, 1, "Conference Pear", "Conference", 200, 4.0, "0.79", 12),
    # Gondola 3: milk, yoghurt and plant-based drinks.
    CatalogueRow(
        3, 1, 2, "Arla Standard Milk 1.5 L", "Arla-Standard-Milk", 1560, 0.8, "1.69", 6
    ),
    CatalogueRow(
        3,
        1,
        2,
        "Arla Medium Fat Milk 1.5 L",
        "Arla-Medium-Fat-Milk",
        1555,
        0.8,
        "1.69",
        6,
    ),
    CatalogueRow(
        3,
        1,
        1,
        "Garant Organic Standard Milk 1 L",
        "Garant-Ecological-Standard-Milk",
        1045,
        0.7,
        "1.39",
        6,
    ),
    CatalogueRow(
        3,
        1,
        1,
        "Garant Organic Medium Fat Milk 1 L",
        "Garant-Ecological-Medium-Fat-Milk",
        1040,
        0.7,
        "1.39",
        6,
    ),
    CatalogueRow(
        3,
        2,
        1,
        "Arla Organic Medium Fat Milk 1 L",
        "Arla-Ecological-Medium-Fat-Milk",
        1040,
        0.7,
        "1.49",
        6,
    ),
    CatalogueRow(
        3,
        2,
        1,
        "Arla Lactose Free Medium Fat Milk 1 L",
        "Arla-Lactose-Medium-Fat-Milk",
        1048,
        0.7,
        "1.79",
        6,
    ),
    CatalogueRow(
        3, 2, 1, "Oatly Oat Drink 1 L", "Oatly-Oat-Milk", 1050, 0.6, "1.99", 6
    ),
    CatalogueRow(
        3,
        2,
        1,
        "Alpro Fresh Soya Drink 1 L",
        "Alpro-Fresh-Soy-Milk",
        1045,
        0.6,
        "1.89",
        6,
    ),
    CatalogueRow(
        3,
        2,
        1,
        "Alpro Long Life Soya Drink 1 L",
        "Alpro-Shelf-Soy-Milk",
        1055,
        0.6,
        "1.79",
        6,
    ),
    CatalogueRow(3, 2, 1, "Arla Sour Milk 1 L", "Arla-Sour-Milk", 1035, 0.8, "1.29", 6),
    CatalogueRow(
        3,
        3,
        1,
        "Arla Natural Yoghurt 1 kg",
        "Arla-Natural-Yoghurt",
        1030,
        0.8,
        "2.29",
        6,
    ),
    CatalogueRow(
        3,
        3,
        1,
        "Arla Mild Vanilla Yoghurt 1 kg",
        "Arla-Mild-Vanilla-Yoghurt",
        1035,
        0.8,
        "2.49",
        6,
    ),
    CatalogueRow(
        3,
        3,
        1,
        "Arla Natural Mild Low Fat Yoghurt 1 kg",
        "Arla-Natural-Mild-Low-Fat-Yoghurt",
        1028,
        0.8,
        "2.29",
        6,
    ),
    CatalogueRow(
        3,
        3,
        1,
        "Valio Vanilla Yoghurt 1 kg",
        "Valio-Vanilla-Yoghurt",
        1040,
        0.8,
        "2.59",
        6,
    ),
    CatalogueRow(
        3,
        3,
        1,
        "Yoggi Strawberry Yoghurt 1 kg",
        "Yoggi-Strawberry-Yoghurt",
        1032,
        0.8,
        "2.39",
        6,
    ),
    CatalogueRow(
        3,
        3,
        1,
        "Yoggi Vanilla Yoghurt 1 kg",
        "Yoggi-Vanilla-Yoghurt",
        1038,
        0.8,
        "2.39",
        6,
    ),
    CatalogueRow(
        3,
        4,
        1,
        "Alpro Blueberry Soya Yoghurt 500 g",
        "Alpro-Blueberry-Soyghurt",
        525,
        0.9,
        "1.99",
        8,
    ),
    CatalogueRow(
        3,
        4,
        1,
        "Alpro Vanilla Soya Yoghurt 500 g",
        "Alpro-Vanilla-Soyghurt",
        522,
        0.9,
        "1.99",
        8,
    ),
    CatalogueRow(
        3,
        4,
        2,
        "Oatly Natural Oatgurt 1 kg",
        "Oatly-Natural-Oatghurt",
        1030,
        0.8,
        "2.69",
        6,
    ),
    CatalogueRow(
        3, 4, 1, "Arla Sour Cream 300 g", "Arla-Sour-Cream", 318, 0.9, "1.19", 10
    ),
    CatalogueRow(
        3,
        4,
        1,
        "Arla Organic Sour Cream 300 g",
        "Arla-Ecological-Sour-Cream",
        320,
        0.9,
        "1.39",
        10,
    ),
    CatalogueRow(
        3,
        5,
        1,
        "Yoggi Strawberry Yoghurt 150 g Cup",
        "Yoggi-Strawberry-Yoghurt",
        162,
        1.0,
        "0.69",
        12,
    ),
    CatalogueRow(
        3,
        5,
        1,
        "Yoggi Vanilla Yoghurt 150 g Cup",
        "Yoggi-Vanilla-Yoghurt",
        163,
        1.0,
        "0.69",
        12,
    ),
    CatalogueRow(
        3,
        5,
        1,
        "Alpro Blueberry Soya Yoghurt 150 g Cup",
        "Alpro-Blueberry-Soyghurt",
        158,
        1.0,
        "0.79",
        12,
    ),
    CatalogueRow(
        3, 5, 1, "Arla Sour Cream 120 g", "Arla-Sour-Cream", 130, 1.0, "0.59", 12
    ),
    CatalogueRow(
        3, 5, 1, "Oatly Oat Drink 250 ml", "Oatly-Oat-Milk", 265, 0.9, "0.89", 12
    ),
    CatalogueRow(
        3, 5, 1, "Alpro Soya Drink 250 ml", "Alpro-Shelf-Soy-Milk", 268, 0.9, "0.89", 12
    ),
    # Gondola 4: juice and single fruit.
    CatalogueRow(
        4,
        1,
        2,
        "Tropicana Smooth Orange Juice 1.75 L",
        "Tropicana-Juice-Smooth",
        1880,
        0.7,
        "4.49",
        4,
    ),
    CatalogueRow(
        4,
        1,
        1,
        "Tropicana Mandarin Morning 1 L",
        "Tropicana-Mandarin-Morning",
        1085,
        0.7,
        "2.99",
        6,
    ),
    CatalogueRow(
        4,
        1,
        1,
        "Tropicana Golden Grapefruit 1 L",
        "Tropicana-Golden-Grapefruit",
        1080,
        0.7,
        "2.99",
        6,
    ),
    CatalogueRow(
        4,
        1,
        1,
        "Tropicana Apple Juice 1 L",
        "Tropicana-Apple-Juice",
        1075,
        0.7,
        "2.99",
        6,
    ),
    CatalogueRow(
        4, 1, 1, "Bravo Apple Juice 1 L", "Bravo-Apple-Juice", 1060, 0.7, "1.99", 6
    ),
    CatalogueRow(
        4, 2, 1, "Bravo Orange Juice 1 L", "Bravo-Orange-Juice", 1065, 0.7, "1.99", 6
    ),
    CatalogueRow(
        4,
        2,
        1,
        "God Morgon Orange Juice 1 L",
        "God-Morgon-Orange-Juice",
        1070,
        0.7,
        "2.29",
        6,
    ),
    CatalogueRow(
        4,
        2,
        1,
        "God Morgon Apple Juice 1 L",
        "God-Morgon-Apple-Juice",
        1068,
        0.7,
        "2.29",
        6,
    ),
    CatalogueRow(
        4,
        2,
        1,
        "God Morgon Orange and Red Grapefruit 1 L",
        "God-Morgon-Orange-Red-Grapefruit-Juice",
        1072,
        0.7,
        "2.29",
        6,
    ),
    CatalogueRow(
        4,
        2,
        1,
        "God Morgon Red Grapefruit Juice 1 L",
        "God-Morgon-Red-Grapefruit-Juice",
        1069,
        0.7,
        "2.29",
        6,
    ),
    CatalogueRow(
        4, 2, 1, "Bravo Orange Juice 1.75 L", "Bravo-Orange-Juice", 1890, 0.7, "3.19", 4
    ),
    CatalogueRow(
        4,
        3,
        1,
        "Tropicana Smooth Orange Juice 330 ml",
        "Tropicana-Juice-Smooth",
        355,
        0.9,
        "1.29",
        10,
    ),
    CatalogueRow(
        4,
        3,
        1,
        "Tropicana Mandarin Morning 330 ml",
        "Tropicana-Mandarin-Morning",
        352,
        0.9,
        "1.29",
        10,
    ),
    CatalogueRow(
        4,
        3,
        1,
        "God Morgon Orange Juice 250 ml",
        "God-Morgon-Orange-Juice",
        270,
        0.9,
        "0.99",
        10,
    ),
    CatalogueRow(
        4, 3, 1, "Bravo Apple Juice 200 ml", "Bravo-Apple-Juice", 215, 0.9, "0.79", 12
    ),
    CatalogueRow(
        4, 3, 1, "Bravo Orange Juice 200 ml", "Bravo-Orange-Juice", 214, 0.9, "0.79", 12
    ),
    CatalogueRow(4, 4, 1, "Kiwi", "Kiwi", 80, 4.5, "0.45", 12),
    CatalogueRow(4, 4, 1, "Lime", "Lime", 65, 4.5, "0.39", 12),
    CatalogueRow(4, 4, 1, "Lemon", "Lemon", 110, 4.0, "0.49", 12),
    CatalogueRow(4, 4, 1, "Passion Fruit", "Passion-Fruit", 42, 5.0, "0.89", 12),
    CatalogueRow(4, 4, 1, "Orange", "Orange", 230, 4.0, "0.69", 12),
    CatalogueRow(4, 4, 1, "Avocado", "Avocado", 190, 4.5, "1.49", 12),
    CatalogueRow(4, 5, 1, "Satsuma", "Satsumas", 75, 4.0, "0.35", 12),
    CatalogueRow(4, 5, 1, "Plum", "Plum", 70, 4.5, "0.39", 12),
    CatalogueRow(4, 5, 1, "Mini Cucumber", "Cucumber", 120, 3.5, "0.59", 12),
    CatalogueRow(
        4, 5, 1, "Cherry Tomatoes 250 g", "Regular-Tomato", 262, 1.0, "2.29", 10
    ),
    CatalogueRow(4, 5, 1, "Asparagus Tips 125 g", "Asparagus", 132, 1.1, "2.49", 10),
    CatalogueRow(4, 5, 1, "Fresh Ginger Piece", "Ginger", 30, 5.0, "0.39", 12),
)


def upc_a(number: int) -> str:
    """Return a 12-digit UPC-A code for ``number``, with the in-store prefix ``2``."""
    body = f"2{number:010d}"
    odd = sum(int(digit) for digit in body[0::2])
    even = sum(int(digit) for digit in body[1::2])
    check = (10 - (3 * odd + even) % 10) % 10
    return body + str(check)


def plate_id(gondola: int, shelf: int, plate: int) -> str:
    """Return the plate id in the ``gondola.shelf.plate`` form the format uses."""
    return f"{gondola}.{shelf}.{plate}"


def _plates() -> dict[str, Plate]:
    plates: dict[str, Plate] = {}
    for layout in GONDOLAS:
        center_y = layout.front_y - layout.facing * PLATE_DEPTH_M / 2
        for shelf, height in enumerate(SHELF_HEIGHTS_M, start=1):
            for number in range(1, PLATES_PER_SHELF + 1):
                center_x = layout.x_start + (number - 0.5) * PLATE_WIDTH_M
                identifier = plate_id(layout.number, shelf, number)
                plates[identifier] = Plate(
                    id=identifier,
                    gondola=layout.number,
                    shelf=shelf,
                    plate=number,
                    center=(round(center_x, 4), round(center_y, 4), height),
                    size=(PLATE_WIDTH_M, PLATE_DEPTH_M),
                    max_load_g=MAX_PLATE_LOAD_G,
                )
    return plates


def _catalogue() -> tuple[dict[str, Product], list[Facing]]:
    products: dict[str, Product] = {}
    planogram: list[Facing] = []
    next_plate: dict[tuple[int, int], int] = {}
    for index, row in enumerate(CATALOGUE, start=1):
        sku = upc_a(index)
        products[sku] = Product(
            sku=sku,
            name=row.name,
            price=Decimal(row.price),
            unit_weight_g=float(row.weight_g),
            unit_weight_sd_g=round(row.weight_g * row.weight_sd_pct / 100, 2),
            vision_class=row.vision_class,
        )

        # Facings fill each shelf left to right in catalogue order.
        first = next_plate.get((row.gondola, row.shelf), 1)
        last = first + row.plates - 1
        if last > PLATES_PER_SHELF:
            raise ValueError(
                f"catalogue row {row.name!r} overflows shelf "
                f"{row.gondola}.{row.shelf}: "
                f"it needs plates {first}-{last} but the shelf has {PLATES_PER_SHELF}"
            )
        next_plate[(row.gondola, row.shelf)] = last + 1
        plate_ids = tuple(
            plate_id(row.gondola, row.shelf, number)
            for number in range(first, last + 1)
        )
        planogram.append(Facing(sku=sku, plates=plate_ids, qty=row.qty))
    return products, planogram


def builtin_store() -> Store:
    """Build the built-in demo store: 120 plates, 106 products and one door."""
    products, planogram = _catalogue()
    zones = [
        Zone(id="door", kind="entry", polygon=ENTRY_ZONE),
        Zone(id="door", kind="exit", polygon=EXIT_ZONE),
    ]
    store = Store(
        info=StoreInfo(id="walkout-demo", name="Walkout Demo Store", currency="USD"),
        products=products,
        plates=_plates(),
        planogram=planogram,
        zones=zones,
        staff_accounts=frozenset({STAFF_ACCOUNT}),
    )
    logger.debug(
        "built-in store: %d plates, %d products", len(store.plates), len(products)
    )
    return store


def gondola_layout(number: int) -> GondolaLayout:
    """Return the layout of gondola ``number`` of the built-in store."""
    for layout in GONDOLAS:
        if layout.number == number:
            return layout
    raise KeyError(f"gondola {number} not found; the built-in store has 1 to 4")
