"""Errors of the dashboard's own (its pages show every error in words; see endpoints.py)."""

from product_partners.kit.errors import FieldErrors, Forbidden, NotFound, RateLimited, Unprocessable


class CsrfRefused(Forbidden):
    error_code = "csrf_refused"
    message = (
        "This form was not sent by a page of this dashboard (its security token is missing or "
        "wrong). Reload the page and try again."
    )


class SignInLimited(RateLimited):
    error_code = "sign_in_limited"
    message = "Too many sign-in attempts. Wait a minute, then try again."


class PageNotFound(NotFound):
    error_code = "page_not_found"
    message = "There is nothing here, or it is not yours."


class FormInvalid(Unprocessable):
    """A form's fields failed validation: each message is shown next to its field."""

    error_code = "form_invalid"
    message = "Some fields need another look."

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__(errors=errors)
