"""Tables of inventory: stock per plate and product, alerts."""

from __future__ import annotations

from walkout.db.base import Base

__all__ = ["Base"]
