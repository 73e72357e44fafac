"""Tables of the live store: stored sensor inputs and fusion state."""

from __future__ import annotations

from walkout.db.base import Base

__all__ = ["Base"]
