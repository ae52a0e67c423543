"""Wire shapes of products (Scalev's field names; a subset of Scalev's Product)."""

from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from product_partners.businesses.schemas import BusinessSimple
from product_partners.kit.pagination import PaginatedFields
from product_partners.kit.urls import DisplayUrl
from product_partners.kit.validation import refuse_nulls
from product_partners.partnerships.questions import (
    MAX_QUESTIONS,
    ApplicationQuestion,
    check_question_list,
)
from product_partners.partnerships.rules import MAX_RULES, PartnershipRule, check_rule_list
from product_partners.partnerships.schemas import CommissionRate, Domain, ProductPartner


class ItemType(StrEnum):
    physical = "physical"
    digital = "digital"
    course = "course"
    license = "license"
    subscription = "subscription"


class ProgrammeSettings(BaseModel):
    """Partner-programme settings of a product (Scalev's names; all optional in a request)."""

    model_config = ConfigDict(extra="ignore")

    is_affiliate_enabled: StrictBool | None = Field(
        default=None, description="Open to `affiliate` partnership requests."
    )
    is_affiliate_pro_enabled: StrictBool | None = Field(
        default=None, description="Open to `affiliate_pro` partnership requests."
    )
    is_affiliate_auto_accept: StrictBool | None = Field(
        default=None, description="Partnership requests are approved at once."
    )
    is_product_sharing: StrictBool | None = Field(
        default=None, description="Open to `reseller` partnership requests (product sharing)."
    )
    affiliate_commission_rate: CommissionRate | None = None
    affiliate_pro_commission_rate: CommissionRate | None = None
    partnership_sales_letter: str | None = Field(default=None, max_length=20000)
    rerequest_cooldown_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=365 * 24 * 3600,
        description="Ours: seconds a rejected partner must wait before requesting again.",
    )


class CreateRequestProduct(ProgrammeSettings):
    """Scalev's CreateRequestProduct: the fields this service keeps, plus programme settings.

    Scalev's other fields (variants, is_inventory, rich_description, ...) concern commerce this
    service does not model: they are refused with 400 naming them, never accepted and dropped.
    """

    model_config = ConfigDict(title="CreateRequestProduct", extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="Product Name")
    item_type: ItemType = Field(description="Type of the product item")
    public_name: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(
        default=None, min_length=1, max_length=120, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
    )
    description: str | None = Field(default=None, max_length=20000)
    meta_thumbnail: DisplayUrl | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


# Settings that may be cleared with null; the others must be a value when sent.
NULLABLE_SETTINGS = frozenset(
    {"affiliate_commission_rate", "affiliate_pro_commission_rate", "partnership_sales_letter"}
)


class UpdateRequestProduct(ProgrammeSettings):
    """The body of updateProduct: the product fields this service keeps and its programme
    settings (``is_product_sharing``, ``partnership_sales_letter``, ...). Omitted fields stay;
    Scalev's other fields (variants, options, ...) are refused with 400 naming them."""

    model_config = ConfigDict(title="UpdateRequestProduct", extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    item_type: ItemType | None = None
    public_name: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(
        default=None, min_length=1, max_length=120, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
    )
    description: str | None = Field(default=None, max_length=20000)
    meta_thumbnail: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _no_null_values(self) -> "UpdateRequestProduct":
        refuse_nulls(self, NULLABLE_SETTINGS | {"public_name", "description", "meta_thumbnail"})
        if self.name is not None and not self.name.strip():
            raise ValueError("name must not be blank")
        return self

    def changes(self) -> dict[str, object]:
        """The sent fields, as column values."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        if self.item_type is not None:
            values["item_type"] = self.item_type.value
        return values


class ProductPartnershipSettings(ProgrammeSettings):
    """The body of updateProductPartnership / checkProductPartnershipChanges.

    Scalev types it as a free JSON object; we accept the programme fields by Scalev's names
    (plus our ``rerequest_cooldown_seconds``). Omitted fields stay as they are; an unknown field
    is refused (400) rather than silently ignored.
    """

    model_config = ConfigDict(title="ProductPartnershipSettings", extra="forbid")

    application_questions: list[ApplicationQuestion] | None = Field(
        default=None,
        max_length=MAX_QUESTIONS,
        description=f"Ours: the questions a request answers (up to {MAX_QUESTIONS}); the "
        "whole list is replaced. Keep a question's `id` to keep its answers and rules.",
    )
    partnership_rules: list[PartnershipRule] | None = Field(
        default=None,
        max_length=MAX_RULES,
        description=f"Ours: the ordered auto-approve rules (up to {MAX_RULES}); the first "
        "whose conditions all hold decides a new request; the whole list is replaced.",
    )

    @model_validator(mode="after")
    def _no_null_flags(self) -> "ProductPartnershipSettings":
        refuse_nulls(self, NULLABLE_SETTINGS)
        check_question_list(self.application_questions or [])
        check_rule_list(self.partnership_rules or [])
        return self

    def changes(self) -> dict[str, object]:
        """The sent fields, as column values (questions and rules as the product keeps them:
        every question with its id)."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        if self.application_questions is not None:
            values["application_questions"] = [q.stored() for q in self.application_questions]
        if self.partnership_rules is not None:
            values["partnership_rules"] = [
                r.model_dump(mode="json") for r in self.partnership_rules
            ]
        return values


class FieldChange(BaseModel):
    model_config = ConfigDict(title="FieldChange")

    before: object = Field(description="The current value.")
    after: object = Field(description="The value the change would set.")


class ProductPartnershipChanges(BaseModel):
    """Ours (Scalev answers a free object): what a settings change would do; nothing is saved."""

    model_config = ConfigDict(title="ProductPartnershipChanges")

    product_id: int
    changes: dict[str, FieldChange] = Field(
        description="The settings that would change (sent fields equal to the current value "
        "are left out)."
    )
    pending_requests_approved: int = Field(
        description="Pending requests that auto-accept would approve at once (affiliate and "
        "affiliate_pro requests of enabled types, when auto-accept ends up on)."
    )
    affiliate_pro_partnerships_losing_links: int = Field(
        description="Approved affiliate_pro partnerships whose links would be suspended "
        "(affiliate_pro switched off). They stay approved; links return when it is switched on."
    )
    affiliate_pro_partnerships_regaining_links: int = Field(
        description="Approved affiliate_pro partnerships whose links would come back."
    )
    types_opened_to_requests: list[str]
    types_closed_to_requests: list[str]
    pending_requests_of_closed_types: int = Field(
        description="Pending requests of types that would close: they stay pending for you "
        "to decide."
    )
    partnerships_by_status: dict[str, int] = Field(
        description="Current partnerships of the product per affiliate_status."
    )
    pending_requests_by_rules: dict[str, int] | None = Field(
        default=None,
        description="Sent `partnership_rules` only: how many of the oldest pending requests "
        "(up to 100; `evaluated`) the proposed rules would approve, reject or leave for review "
        "were they requested now. Rules decide new requests only; see "
        "previewProductPartnershipRules for the per-request traces.",
    )


# Scalev types these as strings that are not nullable: a product without one omits the field.
OptionalText = str | SkipJsonSchema[None]


class ProductFields(BaseModel):
    id: int = Field(description="Product ID")
    name: str
    public_name: OptionalText = None
    display: str
    slug: str
    item_type: ItemType
    item_type_name: str = Field(description="Item Type Name")
    description: OptionalText = None
    meta_thumbnail: OptionalText = None
    business: BusinessSimple
    is_affiliate_enabled: bool
    is_affiliate_pro_enabled: bool
    is_affiliate_auto_accept: bool
    is_product_sharing: bool
    affiliate_commission_rate: OptionalText = Field(
        default=None, description="Affiliate Commission Rate (%); omitted when not set."
    )
    affiliate_pro_commission_rate: OptionalText = Field(
        default=None, description="Affiliate Pro Commission Rate (%); omitted when not set."
    )
    partnership_sales_letter: OptionalText = Field(
        default=None, description="Partnership sales letter; omitted when not set."
    )
    rerequest_cooldown_seconds: int
    application_questions: list[ApplicationQuestion] = Field(
        description="Ours: the questions a partnership request answers (each with its id)."
    )
    partnership_rules: list[PartnershipRule] | SkipJsonSchema[None] = Field(
        default=None,
        description="Ours, owner only (omitted for partners): the auto-approve rules.",
    )
    custom_domains: list[Domain] = Field(
        description="Custom domains of the owner's stores, where the product can be viewed."
    )
    images: list[str]
    labels: list[dict[str, str]]
    variants: list[dict[str, object]]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    last_updated_at: str = Field(json_schema_extra={"format": "date-time"})


class Product(ProductFields):
    model_config = ConfigDict(title="Product")


class ProductList(ProductFields):
    model_config = ConfigDict(title="ProductList")

    product_partners: list[ProductPartner] | None = Field(
        description=(
            "The caller's partnerships of this product. Only for partner products "
            "(product.business_id != the caller); null for owned products."
        )
    )


class ListProductsResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListProductsResponseBody")

    data: list[ProductList]


class ProductSimplified(BaseModel):
    """One product of listProductsSimplified: the essential fields."""

    model_config = ConfigDict(title="ProductSimplified")

    id: int = Field(description="Product ID")
    name: str
    public_name: OptionalText = None
    display: str
    slug: str
    item_type: ItemType
    item_type_name: str
    business_id: int
    is_product_sharing: bool


class ListProductsSimplifiedResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListProductsSimplifiedResponseBody")

    data: list[ProductSimplified]


class CountProductsResponseBody(BaseModel):
    model_config = ConfigDict(title="CountProductsResponseBody")

    count: int = Field(description="Number of products matching the filters")


class SettingsPreview(BaseModel):
    """Ours: ``?dry_run=true`` on updateProductPartnership: what it would do; nothing saved."""

    model_config = ConfigDict(title="ProductPartnershipSettingsPreview")

    dry_run: bool
    result: Product = Field(description="The product with the settings it would have")
    approved_partnerships: list[int] = Field(
        description="The pending requests the settings would auto-approve"
    )
    events: list[dict[str, Any]] = Field(description="The events it would emit")
