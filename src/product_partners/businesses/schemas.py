"""Wire shapes of businesses."""

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from product_partners.kit.urls import DisplayUrl

UNIQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _only_unique_id_required(schema: dict[str, Any]) -> None:
    # Scalev's BusinessSimple requires no field (and types every field but logo as non-null):
    # ours always carries the unique id, and the rest once the business may be shown to the
    # viewer (a partner's consent, see README); a withheld field is omitted, never null.
    schema["required"] = ["unique_id"]


class BusinessSimple(BaseModel):
    """Scalev's BusinessSimple: the public face of a business. A partner that has not
    consented to share its contact data with an owner is shown to that owner as its
    ``unique_id`` alone (the one the owner named)."""

    model_config = ConfigDict(title="BusinessSimple", json_schema_extra=_only_unique_id_required)

    id: int
    unique_id: str
    username: str
    account_holder: str
    email: str
    logo: str | None
    is_banned: bool


class BusinessCreate(BaseModel):
    unique_id: str = Field(pattern=UNIQUE_ID_PATTERN, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    account_holder: str = Field(min_length=1, max_length=255)
    email: EmailStr
    logo: DisplayUrl | None = None
