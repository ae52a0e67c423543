"""HTML forms: URL-encoded bodies read without a multipart library, the CSRF token, and
Pydantic's validation errors as messages next to their fields."""

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.requests import Request

from product_partners.dashboard.errors import CsrfRefused

CSRF_FIELD = "csrf_token"
_MAX_FIELDS = 200  # a bulk form of 25 rows and a few fields needs far fewer


class Form:
    """A form's fields; a name may repeat (checkboxes)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.pairs if k == name), default)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.pairs)

    def optional(self, name: str) -> str | None:
        """The field trimmed, or None when it is empty or absent."""
        return self.get(name).strip() or None


async def read_form(request: Request) -> Form:
    """The URL-encoded body (any other is read as no field at all: its CSRF check fails).
    The body is already capped (413) and checked to be UTF-8 by the request middleware."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return Form([])
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        return Form([])
    # PostgreSQL cannot store NUL; no field of a form needs one.
    return Form([(k, v.replace("\x00", "")) for k, v in pairs])


def csrf_token(secret: str) -> str:
    """The form token of a session (or of a sign-in page): derived from the cookie's secret,
    which a page of another site can neither read nor guess."""
    return hmac.new(secret.encode(), b"dashboard form", hashlib.sha256).hexdigest()


def check_csrf(form: Form, secret: str | None) -> None:
    if not secret or not hmac.compare_digest(form.get(CSRF_FIELD), csrf_token(secret)):
        raise CsrfRefused()


def field_errors(exc: ValidationError, names: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Pydantic's errors as ``{field: [message]}`` in words (``names`` renames fields)."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = (names or {}).get(loc[0], loc[0]) if loc else "form"
        errors.setdefault(field, []).append(_words(err))
    return errors


def _words(err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        return str(err.get("msg", "is out of range")).replace("Input should be", "must be")
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind.startswith("decimal") or kind.endswith("parsing") or kind.endswith("type"):
        return "is not a number" if "decimal" in kind or "int" in kind else "is not valid"
    return str(err.get("msg", "is not valid")).removeprefix("Value error, ")
