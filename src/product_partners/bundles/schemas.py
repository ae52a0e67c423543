"""Wire shapes of bundles: Scalev's Bundle, BundleList, BundlePartner and request bodies."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from product_partners.businesses.schemas import BusinessSimple
from product_partners.kit.pagination import PaginatedFields
from product_partners.kit.validation import refuse_nulls
from product_partners.partnerships.schemas import CreatePartnerRequest


class BundleCreateRequest(BaseModel):
    """Scalev's BundleCreateRequest: the fields this service keeps. Its others (bundlelines,
    bundle_price_options, images, ...) concern commerce this service does not model: they are
    refused with 400 naming them, never accepted and dropped."""

    model_config = ConfigDict(title="BundleCreateRequest", extra="forbid")

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


class BundleUpdateRequest(BaseModel):
    """The body of updateBundle: the fields this service keeps (omitted ones stay); Scalev's
    others are refused with 400 naming them."""

    model_config = ConfigDict(title="BundleUpdateRequest", extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    public_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20000)
    is_bundle_sharing: StrictBool | None = Field(
        default=None, description="Open the bundle to resellers (bundle sharing)."
    )

    @field_validator("name", "public_name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _no_null_values(self) -> "BundleUpdateRequest":
        refuse_nulls(self, {"description"})
        return self


class BundleFields(BaseModel):
    id: int
    name: str
    public_name: str
    display: str = Field(description="The name shown to customers")
    slug: str
    description: str | SkipJsonSchema[None] = Field(
        default=None, description="Description; omitted when not set."
    )
    business: BusinessSimple
    is_bundle_sharing: bool = Field(description="Is Bundle Sharing Enabled")
    images: list[str]
    labels: list[dict[str, str]]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    last_updated_at: str = Field(json_schema_extra={"format": "date-time"})


class Bundle(BundleFields):
    model_config = ConfigDict(title="Bundle")

    bundlelines: list[dict[str, object]] = Field(
        description="Not kept by this service (refused on create): always empty."
    )
    bundle_price_options: list[dict[str, object]] = Field(
        description="Not kept by this service (refused on create): always empty."
    )


class BundleList(BundleFields):
    model_config = ConfigDict(title="BundleList")


class ListBundlesResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListBundlesResponseBody")

    data: list[BundleList]


class BundleSimplified(BaseModel):
    """One bundle of listBundlesSimplified: the essential fields."""

    model_config = ConfigDict(title="BundleSimplified")

    id: int
    name: str
    public_name: str
    display: str
    slug: str
    is_bundle_sharing: bool


class ListBundlesSimplifiedResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListBundlesSimplifiedResponseBody")

    data: list[BundleSimplified]


class CountBundlesResponseBody(BaseModel):
    model_config = ConfigDict(title="CountBundlesResponseBody")

    count: int = Field(description="Number of bundles matching the filters")


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
