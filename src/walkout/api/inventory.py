"""Live stock, alerts and restocking."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
