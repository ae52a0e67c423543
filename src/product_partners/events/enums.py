"""The vocabulary of the event log: event types, resource types, actor types.

The event types are part of the wire contract (webhook payloads, ``listEvents?type=``):
names never change once released; a new kind of change gets a new type.
"""

from enum import StrEnum


class EventType(StrEnum):
    # A partnership of a product (resource ``product_partner``; owner and partner see it).
    product_partner_created = "product_partner.created"  # the owner added a partner
    product_partner_requested = "product_partner.requested"  # a business asked to join
    product_partner_approved = "product_partner.approved"
    product_partner_rejected = "product_partner.rejected"
    product_partner_banned = "product_partner.banned"
    product_partner_unbanned = "product_partner.unbanned"
    product_partner_withdrawn = "product_partner.withdrawn"  # the partner withdrew its request
    product_partner_left = "product_partner.left"  # the partner left an approved partnership
    product_partner_deleted = "product_partner.deleted"  # the owner removed it
    product_partner_updated = "product_partner.updated"  # type or store changed
    product_partner_accepted = "product_partner.accepted"  # the partner accepted an add
    # The owner's commission rate for the partner (from_status/to_status: the rate before and
    # after, null: the product's); owner and partner see it.
    product_partner_commission_changed = "product_partner.commission_changed"
    # The owner's private bookkeeping: its audience is the owner alone.
    product_partner_tags_changed = "product_partner.tags_changed"
    product_partner_note_added = "product_partner.note_added"
    product_partner_note_deleted = "product_partner.note_deleted"
    affiliate_pro_domain_approved = "affiliate_pro_domain.approved"
    affiliate_pro_domain_revoked = "affiliate_pro_domain.revoked"
    # A product's partner-programme settings (updateProductPartnership).
    product_partnership_settings_updated = "product.partnership_settings_updated"
    store_created = "store.created"
    store_updated = "store.updated"
    store_deleted = "store.deleted"
    custom_domain_created = "custom_domain.created"
    custom_domain_verified = "custom_domain.verified"
    custom_domain_unverified = "custom_domain.unverified"
    custom_domain_deleted = "custom_domain.deleted"
    api_key_created = "api_key.created"
    api_key_revoked = "api_key.revoked"
    api_key_rotated = "api_key.rotated"  # a new secret (and any revocation lifted)
    webhook_endpoint_created = "webhook_endpoint.created"
    webhook_endpoint_updated = "webhook_endpoint.updated"
    webhook_endpoint_deleted = "webhook_endpoint.deleted"
    webhook_endpoint_disabled = "webhook_endpoint.disabled"  # by the service, after failures
    webhook_endpoint_secret_rotated = "webhook_endpoint.secret_rotated"


class ResourceType(StrEnum):
    product_partner = "product_partner"
    product = "product"
    store = "store"
    custom_domain = "custom_domain"
    api_key = "api_key"
    webhook_endpoint = "webhook_endpoint"


class ActorType(StrEnum):
    """Who made a change: a request authenticated by an API key (``api_key``, with its
    business), a business acting through the operator's CLI (``business``), the service
    itself (``system``: auto-approval, disabling a failing endpoint), or a dashboard user
    (``user``: a dashboard sign-in, dashboard/endpoints.py)."""

    business = "business"
    api_key = "api_key"
    system = "system"
    user = "user"


def resource_of(event_type: EventType) -> ResourceType:
    """The resource type an event type is about (its name's first part; affiliate_pro
    domain approvals are changes of the partnership)."""
    prefix = event_type.value.partition(".")[0]
    if prefix == "affiliate_pro_domain":
        return ResourceType.product_partner
    return ResourceType(prefix)
