"""walkout: a cashierless store platform."""

__version__ = "0.1.0"
