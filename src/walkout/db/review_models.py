"""Tables of review: doubtful lines with their evidence, disputes and returns."""

from __future__ import annotations

from walkout.db.base import Base

__all__ = ["Base"]
