"""product-partners: a product partner programme, wire-compatible with Scalev's v3 API."""

__version__ = "0.1.0"
