"""Stores: loading a layout and catalogue from store.json, staff assignment."""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from walkout.db.models import Account, Product, Store, StoreStaff
from walkout.recording import RecordingError, read_store
from walkout.recording import Store as StoreLayout
from walkout.store.accounts import Role
from walkout.store.errors import ConflictError, InvalidRequestError, NotFoundError
from walkout.store.events import EventName, record_event
from walkout.store.inventory import start_stock

logger = logging.getLogger(__name__)


def parse_store_document(document: dict[str, Any]) -> StoreLayout:
    """Validate a store.json document with the recording reader's checks.

    Raise ``InvalidRequestError`` with the reader's message when it is invalid.
    """
    with tempfile.TemporaryDirectory(prefix="walkout-store-") as directory:
        (Path(directory) / "store.json").write_text(json.dumps(document))
        try:
            return read_store(Path(directory))
        except RecordingError as error:
            raise InvalidRequestError("invalid_store_document", str(error)) from error


def load_store_directory(path: Path) -> tuple[StoreLayout, dict[str, Any]]:
    """Read the store.json of the recording directory ``path``.

    Raise ``RecordingError`` when it is missing or invalid.
    """
    layout = read_store(path)
    document: dict[str, Any] = json.loads((path / "store.json").read_text())
    return layout, document


def save_store(
    session: Session,
    layout: StoreLayout,
    document: dict[str, Any],
    *,
    occupancy_limit: int | None,
    now: datetime,
    replace: bool = False,
) -> Store:
    """Save ``layout``'s catalogue and prices; ``replace`` overwrites a stored one."""
    store = session.get(Store, layout.info.id)
    if store is not None and not replace:
        raise ConflictError("store_exists", f"store {layout.info.id!r} already exists")
    if store is None:
        store = Store(id=layout.info.id, created_at=now)
        session.add(store)
    store.name = layout.info.name
    store.currency = layout.info.currency
    store.occupancy_limit = occupancy_limit
    store.layout = document
    if store.products:
        # Flush the removals first, so that re-added skus do not clash with
        # the rows they replace.
        store.products.clear()
        session.flush()
    store.products = [
        Product(
            sku=product.sku,
            name=product.name,
            price=product.price,
            unit_weight_g=product.unit_weight_g,
            age_restricted=product.age_restricted,
        )
        for product in layout.products.values()
    ]
    start_stock(session, store, now=now)
    record_event(
        session,
        EventName.STORE_LOADED,
        store_id=store.id,
        now=now,
        products=len(layout.products),
        plates=len(layout.plates),
    )
    session.commit()
    return store


def get_store(session: Session, store_id: str) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise NotFoundError("store_not_found", f"store {store_id!r} not found")
    return store


def list_stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.id)))


def set_occupancy_limit(session: Session, store: Store, limit: int | None) -> Store:
    store.occupancy_limit = limit
    session.commit()
    logger.info("occupancy_limit_changed store=%s limit=%s", store.id, limit)
    return store


def assign_staff(session: Session, store: Store, account: Account) -> None:
    """Make the staff-role ``account`` staff of ``store``; repeating it is a no-op."""
    if account.role != Role.STAFF:
        raise InvalidRequestError(
            "not_staff_role",
            f"account {account.id} has role {account.role!r}; "
            "give it the staff role first",
        )
    if session.get(StoreStaff, (store.id, account.id)) is None:
        session.add(StoreStaff(store_id=store.id, account_id=account.id))
        session.commit()
        logger.info("staff_assigned store=%s account=%s", store.id, account.id)


def remove_staff(session: Session, store: Store, account_id: str) -> None:
    assignment = session.get(StoreStaff, (store.id, account_id))
    if assignment is None:
        raise NotFoundError(
            "staff_not_found",
            f"account {account_id} is not staff of store {store.id!r}",
        )
    session.delete(assignment)
    session.commit()
    logger.info("staff_removed store=%s account=%s", store.id, account_id)


def is_staff_of(session: Session, account: Account, store_id: str) -> bool:
    if account.role != Role.STAFF:
        return False
    return session.get(StoreStaff, (store_id, account.id)) is not None


def can_operate(session: Session, account: Account, store_id: str) -> bool:
    """Return whether ``account`` may run the gates and visits of ``store_id``."""
    return account.role == Role.ADMIN or is_staff_of(session, account, store_id)


def staff_of(session: Session, store_id: str) -> list[str]:
    statement = (
        select(StoreStaff.account_id)
        .where(StoreStaff.store_id == store_id)
        .order_by(StoreStaff.account_id)
    )
    return list(session.scalars(statement))
