"""Wire shapes of businesses."""

from pydantic import BaseModel, ConfigDict, EmailStr, Field

UNIQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class BusinessSimple(BaseModel):
    """Scalev's BusinessSimple: the public face of a business."""

    model_config = ConfigDict(title="BusinessSimple")

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
    logo: str | None = Field(default=None, max_length=2048)
