"""The vocabulary of partnerships, in one place: types, statuses, ban reasons, actors, and which
product setting opens each type to requests.

Tables (and their CHECK constraints), the transition table, the wire schemas, metrics, the CLI
and the products domain all import these; a new status or type is added here and nowhere else
by hand (a migration changes the CHECK constraints of existing databases).
"""

from enum import StrEnum


class PartnershipType(StrEnum):
    affiliate = "affiliate"
    affiliate_pro = "affiliate_pro"
    reseller = "reseller"


class AffiliateStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    banned = "banned"


class BanReason(StrEnum):
    """The fixed list of reasons an owner bans a partner for (shown to the partner)."""

    fraud = "fraud"
    spam = "spam"
    brand_misuse = "brand_misuse"
    policy_violation = "policy_violation"
    chargebacks = "chargebacks"
    inactive = "inactive"
    other = "other"


class Actor(StrEnum):
    """Who moves a partnership: the product's owner, the partner business, or the service
    itself (auto-approval by the product's settings)."""

    owner = "owner"
    partner = "partner"
    system = "system"


# The product setting (Scalev's name) that opens each type to partner requests.
OPENING_SETTING: dict[PartnershipType, str] = {
    PartnershipType.affiliate: "is_affiliate_enabled",
    PartnershipType.affiliate_pro: "is_affiliate_pro_enabled",
    PartnershipType.reseller: "is_product_sharing",
}

# Request types that `is_affiliate_auto_accept` approves at once; reseller (product sharing)
# requests always wait for the owner.
AUTO_ACCEPT_TYPES: tuple[PartnershipType, ...] = (
    PartnershipType.affiliate,
    PartnershipType.affiliate_pro,
)


def sql_values(vocabulary: type[StrEnum]) -> str:
    """The members as a SQL list, for CHECK constraints: ``'pending', 'approved', ...``."""
    return ", ".join(f"'{member.value}'" for member in vocabulary)
