"""Stores: catalogue and layout, occupancy, staff assignment."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from walkout.api.deps import AdminAccount, CurrentAccount, NowDep, SessionDep
from walkout.api.errors import ErrorBody
from walkout.db.models import Store
from walkout.store import accounts, stores
from walkout.store.errors import PermissionDeniedError
from walkout.store.gates import people_inside

router = APIRouter(prefix="/stores", tags=["stores"])

StoreId = Annotated[str, Path(max_length=64)]
AccountId = Annotated[str, Path(max_length=36)]


class StoreOut(BaseModel):
    id: str
    name: str
    currency: str
    occupancy_limit: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, store: Store) -> StoreOut:
        return cls(
            id=store.id,
            name=store.name,
            currency=store.currency,
            occupancy_limit=store.occupancy_limit,
            created_at=store.created_at,
        )


class StoreIn(BaseModel):
    document: dict[str, Any] = Field(
        description="a store.json document (format walkout-recording/1)"
    )
    occupancy_limit: int | None = Field(default=None, ge=1, le=10_000)
    replace: bool = Field(
        default=False, description="overwrite the catalogue of an existing store"
    )


class StoreUpdate(BaseModel):
    occupancy_limit: int | None = Field(ge=1, le=10_000)


class ProductOut(BaseModel):
    sku: str
    name: str
    price: Decimal
    unit_weight_g: float
    age_restricted: bool


class OccupancyOut(BaseModel):
    store_id: str
    people_inside: int
    occupancy_limit: int | None


@router.get("")
def list_stores(_: CurrentAccount, session: SessionDep) -> list[StoreOut]:
    return [StoreOut.from_row(store) for store in stores.list_stores(session)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def create_store(
    body: StoreIn, _: AdminAccount, session: SessionDep, now: NowDep
) -> StoreOut:
    """Load a store's layout, catalogue and prices from a store.json document."""
    layout = stores.parse_store_document(body.document)
    store = stores.save_store(
        session,
        layout,
        body.document,
        occupancy_limit=body.occupancy_limit,
        now=now,
        replace=body.replace,
    )
    return StoreOut.from_row(store)


@router.get("/{store_id}", responses={404: {"model": ErrorBody}})
def read_store(store_id: StoreId, _: CurrentAccount, session: SessionDep) -> StoreOut:
    return StoreOut.from_row(stores.get_store(session, store_id))


@router.patch("/{store_id}", responses={404: {"model": ErrorBody}})
def update_store(
    store_id: StoreId, body: StoreUpdate, _: AdminAccount, session: SessionDep
) -> StoreOut:
    store = stores.get_store(session, store_id)
    stores.set_occupancy_limit(session, store, body.occupancy_limit)
    return StoreOut.from_row(store)


@router.get("/{store_id}/products", responses={404: {"model": ErrorBody}})
def list_products(
    store_id: StoreId, _: CurrentAccount, session: SessionDep
) -> list[ProductOut]:
    store = stores.get_store(session, store_id)
    return [
        ProductOut(
            sku=product.sku,
            name=product.name,
            price=product.price,
            unit_weight_g=product.unit_weight_g,
            age_restricted=product.age_restricted,
        )
        for product in store.products
    ]


@router.get("/{store_id}/layout", responses={404: {"model": ErrorBody}})
def read_layout(
    store_id: StoreId, _: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """Return the store.json document the store was loaded from."""
    return stores.get_store(session, store_id).layout


@router.get(
    "/{store_id}/occupancy",
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def read_occupancy(
    store_id: StoreId, account: CurrentAccount, session: SessionDep
) -> OccupancyOut:
    store = stores.get_store(session, store_id)
    if not stores.can_operate(session, account, store.id):
        raise PermissionDeniedError(
            "not_store_staff", f"only staff of store {store.id!r} see its occupancy"
        )
    return OccupancyOut(
        store_id=store.id,
        people_inside=people_inside(session, store.id),
        occupancy_limit=store.occupancy_limit,
    )


@router.get("/{store_id}/staff", responses={404: {"model": ErrorBody}})
def list_staff(store_id: StoreId, _: AdminAccount, session: SessionDep) -> list[str]:
    """Return the account ids of the store's staff."""
    store = stores.get_store(session, store_id)
    return stores.staff_of(session, store.id)


@router.put(
    "/{store_id}/staff/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def assign_staff(
    store_id: StoreId, account_id: AccountId, _: AdminAccount, session: SessionDep
) -> None:
    store = stores.get_store(session, store_id)
    account = accounts.get_account(session, account_id)
    stores.assign_staff(session, store, account)


@router.delete(
    "/{store_id}/staff/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}},
)
def remove_staff(
    store_id: StoreId, account_id: AccountId, _: AdminAccount, session: SessionDep
) -> None:
    store = stores.get_store(session, store_id)
    stores.remove_staff(session, store, account_id)
