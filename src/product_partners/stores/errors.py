"""Errors about stores."""

from product_partners.kit.errors import Conflict, NotFound, Unprocessable


class StoreNotFound(NotFound):
    """No such store, or another business's: the two are never told apart."""

    error_code = "store_not_found"
    message = "No such store."


class CustomDomainNotYours(Unprocessable):
    """A store may only use its own business's domains; another's is told like a missing one."""

    error_code = "custom_domain_not_found"
    message = "No such custom domain in your business."

    def __init__(self) -> None:
        super().__init__(errors={"custom_domain_id": ["is not one of your custom domains"]})


class CustomDomainInUse(Conflict):
    error_code = "custom_domain_in_use"
    message = "This custom domain is already used by another of your stores."

    def __init__(self) -> None:
        super().__init__(errors={"custom_domain_id": ["is used by another store"]})


class StoreIdCollision(Conflict):
    error_code = "store_id_collision"
    message = "Could not allocate a store id; retry."
