"""``python -m product_partners.cli``: the same as the ``product-partners`` command."""

from product_partners.cli.main import main

raise SystemExit(main())
