"""Wire shapes of partnerships: Scalev's ProductPartner and friends."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from product_partners.businesses.schemas import BusinessSimple
from product_partners.pagination import PaginatedFields


class PartnershipType(StrEnum):
    affiliate = "affiliate"
    affiliate_pro = "affiliate_pro"
    reseller = "reseller"


class AffiliateStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    banned = "banned"


class Domain(BaseModel):
    """A custom domain, as Scalev lists it on a partnership."""

    model_config = ConfigDict(title="Domain")

    id: int = Field(description="Unique identifier of the custom domain")
    business_id: int = Field(description="Business ID that owns the custom domain")
    full_url: str = Field(description="Full URL of the custom domain")


class AffiliateProLink(BaseModel):
    model_config = ConfigDict(title="AffiliateProLink")

    domain: str = Field(description="Custom domain for the affiliate pro link")
    product_url: str = Field(
        description="Affiliate Pro product page URL (carries ap=<store unique id>)"
    )
    checkout_url: str = Field(
        description="Affiliate Pro checkout page URL (carries ap=<store unique id>)"
    )


class ProductPartner(BaseModel):
    """A partner associated with a product (Scalev's ProductPartner)."""

    model_config = ConfigDict(title="ProductPartner")

    id: int = Field(description="Unique identifier of the product partner")
    partner: BusinessSimple
    partnership_type: PartnershipType = Field(
        description="Type of partnership (affiliate, affiliate_pro, or reseller)"
    )
    affiliate_status: AffiliateStatus = Field(
        description="Status of the partnership (pending, approved, rejected, banned)"
    )
    message_to_product_owner: str | None = Field(
        description="Message from partner when requesting partnership"
    )
    requested_at: str | None = Field(json_schema_extra={"format": "date-time"})
    approved_at: str | None = Field(json_schema_extra={"format": "date-time"})
    rejected_at: str | None = Field(json_schema_extra={"format": "date-time"})
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    store_id: int | None = Field(description="Store ID assigned for affiliate_pro routing")
    custom_domains: list[Domain] = Field(
        description="List of custom domains where the product page can be viewed"
    )
    affiliate_pro_domains: list[Domain] = Field(
        description="Approved affiliate_pro custom domains for this partnership"
    )
    affiliate_pro_links: list[AffiliateProLink] = Field(
        description="Affiliate Pro links (product + checkout, include ap=<store unique id>)"
    )


class CreatePartnerRequest(BaseModel):
    """Scalev's CreatePartnerRequest: add a business as partner of a product."""

    model_config = ConfigDict(title="CreatePartnerRequest")

    partner_unique_id: str = Field(
        min_length=1, max_length=64, description="Partner Unique ID (the business's unique id)"
    )

    @field_validator("partner_unique_id")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class ListProductPartnersResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListProductPartnersResponseBody")

    data: list[ProductPartner]
