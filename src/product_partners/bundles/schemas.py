"""Wire shapes of bundles: Scalev's Bundle, BundleList, BundlePartner and request bodies."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from product_partners.businesses.schemas import BusinessSimple
from product_partners.kit.pagination import PaginatedFields
from product_partners.partnerships.schemas import CreatePartnerRequest


class BundleCreateRequest(BaseModel):
    """Scalev's BundleCreateRequest (the fields this service keeps; others are ignored)."""

    model_config = ConfigDict(title="BundleCreateRequest", extra="ignore")

    name: str = Field(min_length=1, max_length=255, description="Internal name")
    public_name: str = Field(min_length=1, max_length=255, description="Name shown to customers")
    description: str | None = Field(default=None, max_length=20000)
    is_bundle_sharing: StrictBool = Field(
        default=False, description="Ours here: open the bundle to resellers (bundle sharing)."
    )

    @field_validator("name", "public_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class BundleFields(BaseModel):
    id: int
    name: str
    public_name: str
    display: str = Field(description="The name shown to customers")
    slug: str
    description: str | None
    business: BusinessSimple
    is_bundle_sharing: bool = Field(description="Is Bundle Sharing Enabled")
    images: list[str]
    labels: list[dict[str, str]]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    last_updated_at: str = Field(json_schema_extra={"format": "date-time"})


class Bundle(BundleFields):
    model_config = ConfigDict(title="Bundle")

    bundlelines: list[dict[str, object]] = Field(description="Not kept by this service: empty.")
    bundle_price_options: list[dict[str, object]] = Field(
        description="Not kept by this service: empty."
    )


class BundleList(BundleFields):
    model_config = ConfigDict(title="BundleList")


class ListBundlesResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListBundlesResponseBody")

    data: list[BundleList]


class CreateBundlePartnerRequest(CreatePartnerRequest):
    """Scalev's CreateBundlePartnerRequest: the same body as for products."""

    model_config = ConfigDict(title="CreateBundlePartnerRequest")


class BundlePartner(BaseModel):
    """Scalev's BundlePartner."""

    model_config = ConfigDict(title="BundlePartner")

    id: int = Field(description="Bundle Partner ID")
    partner: BusinessSimple
    created_at: str = Field(
        description="Creation timestamp", json_schema_extra={"format": "date-time"}
    )


class MyBundlePartnership(BaseModel):
    """Ours: a bundle partnership as its partner sees it, with who added it."""

    model_config = ConfigDict(title="MyBundlePartnership")

    id: int = Field(description="Bundle Partner ID (the owner's BundlePartner id)")
    bundle_id: int
    bundle_name: str
    bundle_owner: BusinessSimple = Field(description="The bundle's owner, who added you.")
    created_at: str = Field(
        description="When you were added", json_schema_extra={"format": "date-time"}
    )


class ListMyBundlePartnershipsResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListMyBundlePartnershipsResponseBody")

    data: list[MyBundlePartnership]


class ListBundlePartnersResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListBundlePartnersResponseBody")

    data: list[BundlePartner]
