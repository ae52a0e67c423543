"""Wire shapes of custom domains."""

from pydantic import BaseModel, ConfigDict, Field

from product_partners.kit.pagination import PaginatedFields


class SimpleCustomDomain(BaseModel):
    """Scalev's SimpleCustomDomain: a custom domain as a store shows it."""

    model_config = ConfigDict(title="SimpleCustomDomain")

    id: int = Field(description="Custom Domain ID")
    full_url: str = Field(description="The host name, normalized (e.g. shop.example.com)")
    is_verified: bool = Field(description="Is Verified")


class DomainVerification(BaseModel):
    """Ours: the DNS record that proves your claim (publish it, then verifyCustomDomain)."""

    model_config = ConfigDict(title="DomainVerification")

    record_name: str = Field(description="e.g. _product-partners.shop.example.com")
    record_type: str = Field(description="Always TXT")
    record_value: str = Field(description="This claim's token (each claim has its own)")


class CustomDomain(SimpleCustomDomain):
    """Ours: a custom domain of your business, verified or still a claim."""

    model_config = ConfigDict(title="CustomDomain")

    business_id: int = Field(description="Business ID that owns the custom domain")
    store_id: int | None = Field(description="The store of yours that uses this domain, if any")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    claim_expires_at: str | None = Field(
        json_schema_extra={"format": "date-time"},
        description="When an unverified claim lapses (null once verified)",
    )
    verification: DomainVerification | None = Field(
        description="The TXT record that verifies this claim (null once verified)"
    )


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
