"""``python -m product_partners``: the same as the ``product-partners`` command."""

from product_partners.cli import main

raise SystemExit(main())
