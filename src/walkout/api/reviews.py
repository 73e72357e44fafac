"""The review queue, disputes and returns."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["reviews"])
