"""Errors about products."""

from product_partners.kit.errors import Conflict, NotFound


class ProductNotFound(NotFound):
    """No such product, or another business's: the two are never told apart."""

    error_code = "product_not_found"
    message = "No such product."


class SlugTaken(Conflict):
    error_code = "slug_taken"
    message = "You already have a product with this slug."

    def __init__(self) -> None:
        super().__init__(errors={"slug": ["is already used by another of your products"]})
