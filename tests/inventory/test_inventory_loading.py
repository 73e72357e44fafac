"""Stock from a loaded store.json: the built-in store, reloads, the migration."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from inventory_helpers import STORE_DOCUMENT, STORE_ID, FakeClock
from sqlalchemy.orm import Session, sessionmaker

from walkout.db.base import Base
from walkout.db.migrate import downgrade
from walkout.db.session import build_engine, build_session_factory
from walkout.sim import simulate_to
from walkout.sim.store import builtin_store
from walkout.store.errors import InvalidRequestError
from walkout.store.inventory import (
    list_alerts,
    plate_stock,
    product_stock,
    record_shelf_change,
)
from walkout.store.stores import load_store_directory, parse_store_document, save_store

INVENTORY_TABLES = {
    "inventory_stores",
    "stock_levels",
    "shelf_changes",
    "stock_counts",
    "inventory_alerts",
}


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = build_engine(database_url)
    yield build_session_factory(engine)
    engine.dispose()


def load(
    factory: sessionmaker[Session],
    document: dict[str, Any],
    clock: FakeClock,
    *,
    replace: bool = False,
) -> None:
    with factory() as session:
        save_store(
            session,
            parse_store_document(document),
            document,
            occupancy_limit=None,
            now=clock(),
            replace=replace,
        )


def units_by_plate(factory: sessionmaker[Session], store_id: str) -> dict[str, int]:
    with factory() as session:
        rows = plate_stock(session, store_id, now=FakeClock()())
    return {f"{row.plate}/{row.sku}": row.units for row in rows}


def test_builtin_store_starts_with_planogram(
    factory: sessionmaker[Session], tmp_path: Path, clock: FakeClock
) -> None:
    store = builtin_store()
    # `walkout simulate` writes its recordings, store.json included, this way.
    simulate_to(tmp_path / "recording", "single", 1)
    layout, document = load_store_directory(tmp_path / "recording")
    with factory() as session:
        save_store(session, layout, document, occupancy_limit=None, now=clock())

    with factory() as session:
        rows = product_stock(session, store.info.id, now=clock())
        products = {row.sku: row for row in rows}
        alerts = list_alerts(session, store.info.id, only_open=True)
    stock = units_by_plate(factory, store.info.id)

    expected_by_sku: dict[str, int] = defaultdict(int)
    for facing in store.planogram:
        assert facing.qty is not None
        expected_by_sku[facing.sku] += facing.qty
        shares = [stock[f"{plate}/{facing.sku}"] for plate in facing.plates]
        assert sum(shares) == facing.qty
        assert max(shares) - min(shares) <= 1
    for sku, qty in expected_by_sku.items():
        assert products[sku].units_on_planogram_plates == qty
        assert products[sku].capacity == qty
        assert products[sku].known is True
    assert alerts == []


def test_reload_keeps_stock_until_planogram_changes(
    factory: sessionmaker[Session], clock: FakeClock
) -> None:
    load(factory, STORE_DOCUMENT, clock)
    with factory() as session:
        record_shelf_change(
            session,
            STORE_ID,
            event_key="take-1",
            plate="1.1.2",
            sku="chips",
            delta_units=-3,
            visit_id=None,
            staff=False,
            now=clock(),
        )
        session.commit()

    load(factory, STORE_DOCUMENT, clock, replace=True)
    assert units_by_plate(factory, STORE_ID)["1.1.2/chips"] == 1
    with factory() as session:
        alerts = list_alerts(session, STORE_ID, only_open=True)
    assert [(alert.kind, alert.sku) for alert in alerts] == [("low_stock", "chips")]

    # A lower threshold with the same planogram keeps the stock and
    # resolves the alert.
    lower = copy.deepcopy(STORE_DOCUMENT)
    lower["products"][1]["low_stock_units"] = 0
    load(factory, lower, clock, replace=True)
    assert units_by_plate(factory, STORE_ID)["1.1.2/chips"] == 1
    with factory() as session:
        assert list_alerts(session, STORE_ID, only_open=True) == []

    changed = copy.deepcopy(STORE_DOCUMENT)
    changed["planogram"][2]["qty"] = 10
    load(factory, changed, clock, replace=True)
    assert units_by_plate(factory, STORE_ID)["1.1.2/chips"] == 10
    with factory() as session:
        alerts = list_alerts(session, STORE_ID, only_open=False)
    assert [(alert.kind, alert.state) for alert in alerts] == [
        ("low_stock", "resolved")
    ]


def test_invalid_low_stock_units_rejected(
    factory: sessionmaker[Session], clock: FakeClock
) -> None:
    document = copy.deepcopy(STORE_DOCUMENT)
    document["products"][1]["low_stock_units"] = -1

    with pytest.raises(InvalidRequestError, match="low_stock_units"):
        load(factory, document, clock)


def _inventory_names_only(
    name: str | None, type_: str, parent_names: dict[str, str | None]
) -> bool:
    """Keep the comparison to the inventory tables, which this revision creates."""
    if type_ == "schema":
        return True
    if type_ == "table":
        return name in INVENTORY_TABLES
    return parent_names.get("table_name") in INVENTORY_TABLES


def _inventory_objects_only(
    item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table":
        return name in INVENTORY_TABLES
    table = getattr(item, "table", None)
    return table is None or table.name in INVENTORY_TABLES


def test_migration_matches_inventory_models(database_url: str) -> None:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sqlalchemy.inspect(connection).get_table_names())
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_name": _inventory_names_only,
                    "include_object": _inventory_objects_only,
                },
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert tables >= INVENTORY_TABLES
    assert differences == []

    downgrade(database_url, "0004_reviews")
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sqlalchemy.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert tables.isdisjoint(INVENTORY_TABLES)
