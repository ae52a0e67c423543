"""Wire shapes of custom domains."""

from pydantic import BaseModel, ConfigDict, Field

from product_partners.kit.pagination import PaginatedFields


class SimpleCustomDomain(BaseModel):
    """Scalev's SimpleCustomDomain: a custom domain as a store shows it."""

    model_config = ConfigDict(title="SimpleCustomDomain")

    id: int = Field(description="Custom Domain ID")
    full_url: str = Field(description="The host name, normalized (e.g. shop.example.com)")
    is_verified: bool = Field(description="Is Verified")


class CustomDomain(SimpleCustomDomain):
    """Ours: a custom domain of your business."""

    model_config = ConfigDict(title="CustomDomain")

    business_id: int = Field(description="Business ID that owns the custom domain")
    store_id: int | None = Field(description="The store of yours that uses this domain, if any")
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class CustomDomainCreateRequest(BaseModel):
    model_config = ConfigDict(title="CustomDomainCreateRequest", extra="forbid")

    full_url: str = Field(
        min_length=1,
        max_length=300,
        description=(
            "A host name such as `shop.example.com` (a leading `https://` and a trailing `/` "
            "or `.` are dropped; upper case and Unicode names are normalized)."
        ),
    )


class ListCustomDomainsResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListCustomDomainsResponseBody")

    data: list[CustomDomain]
