"""Errors about bundles."""

from product_partners.kit.errors import Conflict, NotFound


class BundleNotFound(NotFound):
    """No such bundle, or another business's: the two are never told apart."""

    error_code = "bundle_not_found"
    message = "No such bundle."


class BundleSlugUnavailable(Conflict):
    error_code = "slug_taken"
    message = "Could not allocate a unique slug; retry."
