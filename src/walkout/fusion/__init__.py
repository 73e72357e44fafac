"""Fusion: shelf events, poses and vision in; decided takes and puts per account out."""

from .carts import Cart, CartLine, build_receipt
from .decisions import AccountScore, DecidedEvent
from .engine import FusionEngine, ReplayResult, replay
from .params import FusionParams
from .products import (
    AMBIGUOUS_PRODUCT,
    PUT,
    SENSOR_FAULT,
    TAKE,
    ProductHypothesis,
    ProductScore,
    score_products,
)
from .shelf import ShelfContents
from .shoppers import (
    AMBIGUOUS_SHOPPER,
    ANONYMOUS_ACCOUNT,
    AccountBook,
    AccountMode,
    PoseIndex,
    Reach,
    TrackScore,
    associate_tracks,
    plate_distances,
)
from .solver import solve

__all__ = [
    "AMBIGUOUS_PRODUCT",
    "AMBIGUOUS_SHOPPER",
    "ANONYMOUS_ACCOUNT",
    "PUT",
    "SENSOR_FAULT",
    "TAKE",
    "AccountBook",
    "AccountMode",
    "AccountScore",
    "Cart",
    "CartLine",
    "DecidedEvent",
    "FusionEngine",
    "FusionParams",
    "PoseIndex",
    "ProductHypothesis",
    "ProductScore",
    "Reach",
    "ReplayResult",
    "ShelfContents",
    "TrackScore",
    "associate_tracks",
    "build_receipt",
    "plate_distances",
    "replay",
    "score_products",
    "solve",
]
