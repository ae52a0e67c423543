"""Wire shapes of stores: Scalev's BusinessStore and its request bodies."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from product_partners.domains.schemas import SimpleCustomDomain
from product_partners.kit.ids import MAX_ID
from product_partners.kit.pagination import PaginatedFields
from product_partners.kit.urls import DisplayUrlOrEmpty


class BusinessStore(BaseModel):
    """Scalev's BusinessStore (the fields this service keeps)."""

    model_config = ConfigDict(title="BusinessStore")

    id: int = Field(description="Numeric store database ID.")
    unique_id: str = Field(
        description="Public store unique ID (`store_...`), used in affiliate_pro links as `ap=`."
    )
    name: str
    business_id: int
    is_active: bool
    is_public: bool
    logo: str | None = Field(description="Public URL for the store logo when configured.")
    custom_domain: SimpleCustomDomain | None = Field(
        description="The custom domain the store is served on, if any."
    )
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    last_updated_at: str = Field(json_schema_extra={"format": "date-time"})


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class BusinessStoreCreateRequest(BaseModel):
    model_config = ConfigDict(title="BusinessStoreCreateRequest", extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    custom_domain_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="One of your custom domains, not used by another store.",
    )

    _name = field_validator("name")(_not_blank)


class BusinessStoreUpdateRequest(BaseModel):
    """The fields of Scalev's BusinessStoreUpdateRequest this service keeps, and `is_active`."""

    model_config = ConfigDict(title="BusinessStoreUpdateRequest", extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    is_public: StrictBool | None = None
    is_active: StrictBool | None = Field(
        default=None,
        description="Ours: an inactive store's domain "
        "is not listed as a place where the owner's products show.",
    )
    custom_domain_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="One of your custom domains; `null` removes the domain.",
    )
    logo: DisplayUrlOrEmpty | None = Field(
        default=None, description='Logo URL (https); `null` or `""` clears the logo.'
    )

    _name = field_validator("name")(_not_blank)


class BusinessStoreCollectionResponseBody(PaginatedFields):
    model_config = ConfigDict(title="BusinessStoreCollectionResponseBody")

    data: list[BusinessStore]
