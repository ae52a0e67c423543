"""The ``product-partners`` command line (``main``); command groups are listed in ``main.py``."""

from product_partners.cli.main import main

__all__ = ["main"]
