"""HTTP API of the store service: one router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from walkout.api import (
    accounts,
    auth,
    gates,
    health,
    inventory,
    live,
    passes,
    receipts,
    reviews,
    stores,
    visits,
)

api_router = APIRouter()
for module in (
    health,
    auth,
    accounts,
    stores,
    passes,
    gates,
    visits,
    receipts,
    live,
    reviews,
    inventory,
):
    api_router.include_router(module.router)

__all__ = ["api_router"]
