"""Errors about dashboard users and their sign-in."""

from product_partners.kit.errors import Conflict, NotFound, Unauthorized, Unprocessable

MIN_PASSWORD_LENGTH = 10


class EmailTaken(Conflict):
    error_code = "email_taken"
    message = "A user with this email already exists."


class UserNotFound(NotFound):
    error_code = "user_not_found"
    message = "No user with this email."


class InvalidEmail(Unprocessable):
    error_code = "invalid_email"
    message = "The email is not an email address (name@example.com)."

    def __init__(self) -> None:
        super().__init__(errors={"email": ["is not an email address"]})


class WeakPassword(Unprocessable):
    error_code = "weak_password"
    message = f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."

    def __init__(self) -> None:
        super().__init__(errors={"password": [f"needs {MIN_PASSWORD_LENGTH} characters or more"]})


class InvalidCredentials(Unauthorized):
    """Wrong email or password: the same answer for both, so that emails cannot be probed."""

    error_code = "invalid_credentials"
    message = "The email or the password is wrong."


class UserDisabled(Unauthorized):
    error_code = "user_disabled"
    message = "This account is disabled: ask your business's administrator."
