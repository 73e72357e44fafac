"""Live sensor ingestion (HTTP batches, a WebSocket) and receipts pushed to the app."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["live"])
