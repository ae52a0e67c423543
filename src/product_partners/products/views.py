"""Product rows to Scalev's Product / ProductList bodies."""

from typing import Any

from product_partners.businesses.views import business_simple

ITEM_TYPE_NAMES = {
    "physical": "Physical",
    "digital": "Digital",
    "course": "Course",
    "license": "License",
    "subscription": "Subscription",
}


# Scalev types these as strings, not nullable: a product without a value omits the field.
OMITTED_WHEN_UNSET = (
    "public_name",
    "description",
    "meta_thumbnail",
    "affiliate_commission_rate",
    "affiliate_pro_commission_rate",
    "partnership_sales_letter",
)


def without_unset(body: dict[str, Any]) -> dict[str, Any]:
    for name in OMITTED_WHEN_UNSET:
        if body.get(name, "") is None:
            del body[name]
    return body


def product_simplified(row: Any) -> dict[str, Any]:
    """listProductsSimplified's item."""
    return without_unset(
        {
            "id": row.id,
            "name": row.name,
            "public_name": row.public_name,
            "display": row.public_name or row.name,
            "slug": row.slug,
            "item_type": row.item_type,
            "item_type_name": ITEM_TYPE_NAMES.get(row.item_type, row.item_type),
            "business_id": row.business_id,
            "is_product_sharing": bool(row.is_product_sharing),
        }
    )


def product(
    row: Any, custom_domains: list[dict[str, Any]], for_owner: bool = True
) -> dict[str, Any]:
    """A Product; a partner (``for_owner=False``) sees the questions it answers, never the
    rules that decide on it."""
    body = without_unset(_product(row, custom_domains))
    if not for_owner:
        del body["partnership_rules"]
    return body


def _product(row: Any, custom_domains: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "public_name": row.public_name,
        "display": row.public_name or row.name,
        "slug": row.slug,
        "item_type": row.item_type,
        "item_type_name": ITEM_TYPE_NAMES.get(row.item_type, row.item_type),
        "description": row.description,
        "meta_thumbnail": row.meta_thumbnail,
        "business": business_simple(row, "owner_"),
        "is_affiliate_enabled": bool(row.is_affiliate_enabled),
        "is_affiliate_pro_enabled": bool(row.is_affiliate_pro_enabled),
        "is_affiliate_auto_accept": bool(row.is_affiliate_auto_accept),
        "is_product_sharing": bool(row.is_product_sharing),
        "affiliate_commission_rate": row.affiliate_commission_rate,
        "affiliate_pro_commission_rate": row.affiliate_pro_commission_rate,
        "partnership_sales_letter": row.partnership_sales_letter,
        "rerequest_cooldown_seconds": row.rerequest_cooldown_seconds,
        "application_questions": row.application_questions,
        "partnership_rules": row.partnership_rules,
        "custom_domains": custom_domains,
        "images": [],
        "labels": [],
        "variants": [],
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }
