"""Live shelf contents: how many units of each product lie on each plate."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

from walkout.recording.model import Store

from .params import DEFAULT_PARAMS, FusionParams

logger = logging.getLogger(__name__)


class ShelfContents:
    """Units per (plate, sku), starting from the planogram and updated by
    every decided take and put. Plates missing from the layout read as empty.

    A facing's ``qty`` is split over its plates as evenly as possible, the
    first plates getting one extra unit when it does not divide. A facing
    without ``qty`` gets ``params.default_units_per_plate`` units per plate.
    """

    def __init__(self, store: Store, params: FusionParams = DEFAULT_PARAMS) -> None:
        self.store_id = store.info.id
        self._units: dict[str, Counter[str]] = {
            plate: Counter() for plate in store.plates
        }
        self._home: dict[str, set[str]] = {plate: set() for plate in store.plates}

        for facing in store.planogram:
            plates = [plate for plate in facing.plates if plate in self._units]
            missing = set(facing.plates) - set(plates)
            if missing:
                logger.warning(
                    "store %s: planogram places sku %s on unknown plates %s",
                    self.store_id,
                    facing.sku,
                    sorted(missing),
                )
            if not plates:
                continue
            if facing.qty is None:
                counts = [params.default_units_per_plate] * len(plates)
            else:
                share, extra = divmod(facing.qty, len(plates))
                counts = [share + (1 if i < extra else 0) for i in range(len(plates))]
            for plate, count in zip(plates, counts, strict=True):
                self._units[plate][facing.sku] += count
                self._home[plate].add(facing.sku)
        # Units whose sku a put could not decide: plate to a list of
        # (counted sku, probability per candidate sku), one entry per unit.
        self._doubtful: dict[str, list[tuple[str, dict[str, float]]]] = {}

    def units(self, plate: str, sku: str) -> int:
        """Return the units of ``sku`` lying on ``plate`` now."""
        return self._units.get(plate, Counter())[sku]

    def on_plate(self, plate: str) -> dict[str, int]:
        """Return the units per sku lying on ``plate`` now, zero counts left out."""
        counts = self._units.get(plate, Counter())
        return {sku: n for sku, n in counts.items() if n > 0}

    def units_on(self, plates: Iterable[str], sku: str) -> int:
        """Return the units of ``sku`` lying on any of ``plates``."""
        return sum(self.units(plate, sku) for plate in plates)

    def planned(self, plate: str) -> set[str]:
        """Return the skus the planogram places on ``plate``."""
        return set(self._home.get(plate, ()))

    def remove(self, plates: Iterable[str], sku: str, qty: int) -> int:
        """Take up to ``qty`` units of ``sku`` from ``plates``, in the given order.

        Returns the number of units that could not be found; the contents
        never go below zero.
        """
        left = qty
        for plate in plates:
            if plate not in self._units:
                continue
            taken = min(left, self._units[plate][sku])
            self._units[plate][sku] -= taken
            self._drop_doubtful(plate, sku, taken)
            left -= taken
            if left == 0:
                break
        if left:
            logger.warning(
                "store %s: %d unit(s) of sku %s taken but not on plates %s",
                self.store_id,
                left,
                sku,
                list(plates),
            )
        return left

    def add(
        self,
        plate: str,
        sku: str,
        qty: int,
        alternatives: Mapping[str, float] | None = None,
    ) -> None:
        """Put ``qty`` units of ``sku`` on ``plate``, even where it does not belong.

        ``alternatives`` maps each sku the units may really be to its
        probability, for a put whose product is in doubt. The units count as
        ``sku`` until a take removes them (``doubt``).
        """
        if plate not in self._units:
            logger.warning(
                "store %s: sku %s put on plate %s, which is not in the store layout",
                self.store_id,
                sku,
                plate,
            )
            self._units[plate] = Counter()
            self._home[plate] = set()
        elif sku not in self._home[plate]:
            logger.info(
                "store %s: sku %s put on plate %s, outside its planogram plates",
                self.store_id,
                sku,
                plate,
            )
        self._units[plate][sku] += qty
        if alternatives is not None:
            entry = (sku, dict(alternatives))
            self._doubtful.setdefault(plate, []).extend([entry] * qty)

    def doubt(
        self, plates: Iterable[str], sku: str, qty: int
    ) -> dict[str, float] | None:
        """Return the candidate skus of units of ``sku`` that a take of ``qty``
        units from ``plates`` must include, or None when the take can be made
        of units whose sku is certain.

        The probabilities are those of the doubtful put that placed the
        units, so a take of a unit that may be another product inherits
        that doubt.
        """
        plate_list = list(plates)
        certain = 0
        doubtful: list[dict[str, float]] = []
        for plate in plate_list:
            entries = [
                alt for counted, alt in self._doubtful.get(plate, ()) if counted == sku
            ]
            doubtful.extend(entries)
            certain += max(self.units(plate, sku) - len(entries), 0)
        if not doubtful or certain >= qty:
            return None
        # The take is as doubtful as its least certain unit.
        return min(doubtful, key=lambda alt: alt.get(sku, 0.0))

    def _drop_doubtful(self, plate: str, sku: str, taken: int) -> None:
        """Forget doubtful units of ``sku`` once fewer units are counted there."""
        entries = self._doubtful.get(plate)
        if not entries:
            return
        mine = [entry for entry in entries if entry[0] == sku]
        excess = len(mine) - self.units(plate, sku)
        for _ in range(max(excess, 0)):
            entries.remove(mine.pop())
