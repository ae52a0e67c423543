"""What the partnerships domain reports in ``/metrics`` (counted at scrape time)."""

from sqlalchemy import func, select

from product_partners.db.tables import product_partners
from product_partners.kit.ops.metrics import DatabaseGauge
from product_partners.partnerships.enums import AffiliateStatus

PARTNERSHIPS_BY_STATUS = DatabaseGauge(
    name="product_partners_partnerships",
    documentation="Product partnerships by status.",
    label="status",
    statement=select(product_partners.c.affiliate_status, func.count()).group_by(
        product_partners.c.affiliate_status
    ),
    label_values=tuple(status.value for status in AffiliateStatus),
)
