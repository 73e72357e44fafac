"""Liveness and database reachability."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from walkout.api.deps import SessionDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok"]


@router.get("/health")
def health(session: SessionDep) -> HealthOut:
    """Return ok once the database completes a query."""
    session.execute(text("SELECT 1"))
    return HealthOut(status="ok")
