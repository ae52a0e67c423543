"""Bundle rows to Scalev's Bundle and BundlePartner bodies."""

from typing import Any

from product_partners.businesses.views import business_simple


def bundle(row: Any, *, full: bool = True) -> dict[str, Any]:
    """Scalev's Bundle (``full``: with its lines and price options, which this service does
    not keep and answers empty) for a row of ``repository.owned_bundles``."""
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "public_name": row.public_name,
        "display": row.public_name,
        "slug": row.slug,
        "description": row.description,
        "business": business_simple(row, "owner_"),
        "is_bundle_sharing": bool(row.is_product_sharing),
        "images": [],
        "labels": [],
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }
    if row.description is None:
        del body["description"]  # Scalev's type is a string, not nullable
    if full:
        body["bundlelines"] = []
        body["bundle_price_options"] = []
    return body


def bundle_simplified(row: Any) -> dict[str, Any]:
    """listBundlesSimplified's item."""
    return {
        "id": row.id,
        "name": row.name,
        "public_name": row.public_name,
        "display": row.public_name,
        "slug": row.slug,
        "is_bundle_sharing": bool(row.is_product_sharing),
    }


def bundle_partner(link_id: int, partner: dict[str, Any], created_at: Any) -> dict[str, Any]:
    """Scalev's BundlePartner."""
    return {"id": link_id, "partner": partner, "created_at": created_at}


def my_bundle_partnership(row: Any) -> dict[str, Any]:
    """Ours: a bundle partnership as its partner sees it (``repository.partner_bundles_query``)."""
    return {
        "id": row.id,
        "bundle_id": row.bundle_id,
        "bundle_name": row.bundle_name,
        "bundle_owner": business_simple(row, "owner_"),
        "created_at": row.created_at,
    }
