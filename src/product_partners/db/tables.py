"""The database schema, as SQLAlchemy Core tables.

One metadata for the whole service. Alembic migrations (``migrations/``) create exactly this;
``tests/test_migrations.py`` checks that the two agree. Hot paths use Core statements over
these tables rather than ORM objects: no identity map, no per-row object churn.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from product_partners.idempotency.enums import MAX_KEY_LENGTH, KeyState
from product_partners.partnerships.enums import AffiliateStatus, PartnershipType, sql_values
from product_partners.webhooks.enums import DeliveryStatus

# SQLite only aliases rowid (auto-increment) for a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
# Every table whose ids leave the service is created with sqlite_autoincrement=True (SQLite's
# AUTOINCREMENT): without it SQLite hands a deleted row's id to the next insert, so a stale id,
# URL or If-Match a client kept would name the new row. PostgreSQL's sequences never go back.

naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=naming_convention)

NOW = text("CURRENT_TIMESTAMP")


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _created_at() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW)


businesses = Table(
    "businesses",
    metadata,
    _id(),
    Column("unique_id", String(64), nullable=False, unique=True),
    Column("username", String(64), nullable=False),
    Column("account_holder", String(255), nullable=False),
    Column("email", String(255), nullable=False),
    Column("logo", String(2048), nullable=True),
    Column("is_banned", Boolean, nullable=False, server_default=text("false")),
    _created_at(),
    sqlite_autoincrement=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=True),
    # The visible part of a key ("ppk_<prefix>_<secret>"): how a key is found without its secret.
    Column("prefix", String(32), nullable=False, unique=True),
    # SHA-256 of the whole key, hex. Keys carry 256 random bits, so a fast hash is safe here.
    Column("key_hash", String(64), nullable=False),
    # Space-separated "resource:action" scopes.
    Column("scopes", Text, nullable=False),
    _created_at(),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_business_id", "business_id"),
    sqlite_autoincrement=True,
)

custom_domains = Table(
    "custom_domains",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    # Normalized host name (lower case, IDNA A-labels, no scheme, path or trailing dot). Any
    # number of businesses may claim a name; one at most holds it verified (the partial index).
    Column("full_url", String(253), nullable=False),
    Column("is_verified", Boolean, nullable=False, server_default=text("false")),
    # An unverified claim's proof: the value of its TXT record _product-partners.<full_url>
    # (public, random per claim); a verified domain needs none.
    Column("verification_token", String(64), nullable=True),
    # When an unverified claim lapses; NULL once verified.
    Column("claim_expires_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    Index("ix_custom_domains_business_id", "business_id"),
    Index("ix_custom_domains_full_url", "full_url"),
    Index("ix_custom_domains_claim_expires_at", "claim_expires_at"),
    Index(
        "uq_custom_domains_verified_full_url",
        "full_url",
        unique=True,
        postgresql_where=text("is_verified"),
        sqlite_where=text("is_verified"),
    ),
    UniqueConstraint("business_id", "full_url"),
    CheckConstraint("is_verified OR verification_token IS NOT NULL", name="claim_has_token"),
    sqlite_autoincrement=True,
)

stores = Table(
    "stores",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("unique_id", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("is_public", Boolean, nullable=False, server_default=text("true")),
    Column("logo", String(2048), nullable=True),
    Column(
        "custom_domain_id",
        Id,
        ForeignKey("custom_domains.id", ondelete="SET NULL"),
        nullable=True,
        unique=True,
    ),
    _created_at(),
    Column("last_updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("ix_stores_business_id", "business_id"),
    sqlite_autoincrement=True,
)


def _programme_columns() -> list[Column]:
    """Partner-programme settings shared by products and bundles (Scalev's field names)."""
    return [
        Column("is_affiliate_enabled", Boolean, nullable=False, server_default=text("false")),
        Column("is_affiliate_pro_enabled", Boolean, nullable=False, server_default=text("false")),
        Column("is_affiliate_auto_accept", Boolean, nullable=False, server_default=text("false")),
        Column("is_product_sharing", Boolean, nullable=False, server_default=text("false")),
        Column("affiliate_commission_rate", Numeric(5, 2), nullable=True),
        Column("affiliate_pro_commission_rate", Numeric(5, 2), nullable=True),
        Column("partnership_sales_letter", Text, nullable=True),
        # Ours: seconds a rejected partner waits before it may request again.
        Column("rerequest_cooldown_seconds", Integer, nullable=False, server_default=text("0")),
    ]


products = Table(
    "products",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("public_name", String(255), nullable=True),
    Column("slug", String(255), nullable=False),
    Column("item_type", String(32), nullable=False, server_default=text("'physical'")),
    Column("description", Text, nullable=True),
    Column("meta_thumbnail", String(2048), nullable=True),
    *_programme_columns(),
    # Ours, partnership settings (partnerships/questions.py, partnerships/rules.py): the
    # questions a request answers and the ordered auto-approve rules, as JSON lists.
    Column("application_questions", JSON, nullable=False, server_default=text("'[]'")),
    Column("partnership_rules", JSON, nullable=False, server_default=text("'[]'")),
    _created_at(),
    Column("last_updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("ix_products_business_id_id", "business_id", "id"),
    UniqueConstraint("business_id", "slug"),
    sqlite_autoincrement=True,
)

bundles = Table(
    "bundles",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("public_name", String(255), nullable=False),
    Column("slug", String(255), nullable=False),
    Column("description", Text, nullable=True),
    *_programme_columns(),
    _created_at(),
    Column("last_updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("ix_bundles_business_id_id", "business_id", "id"),
    UniqueConstraint("business_id", "slug"),
    sqlite_autoincrement=True,
)

product_partners = Table(
    "product_partners",
    metadata,
    _id(),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    # The partner business; NULL while the unique id the owner named belongs to no business
    # (an add answers alike for every unique id, see partnerships/partnering.py).
    Column(
        "partner_business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=True
    ),
    # The unique id the owner named (or the requesting business's): one partnership per
    # product and unique id.
    Column("partner_unique_id", String(64), nullable=False),
    Column("partnership_type", String(16), nullable=False),
    Column("affiliate_status", String(16), nullable=False),
    Column("message_to_product_owner", Text, nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("rejected_at", DateTime(timezone=True), nullable=True),
    Column("banned_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("store_id", Id, ForeignKey("stores.id", ondelete="SET NULL"), nullable=True),
    # Ours, readable by the partner: why it was rejected or banned.
    Column("rejection_reason", Text, nullable=True),
    Column("ban_reason", String(32), nullable=True),
    Column("ban_note", Text, nullable=True),
    # Bumped on every change; the ETag of a partnership (optimistic concurrency, If-Match).
    Column("version", Integer, nullable=False, server_default=text("1")),
    # When the partner agreed to be routed as affiliate_pro (requested it, or accepted the
    # partnership as affiliate_pro): only then may the owner approve its domains for links.
    Column("affiliate_pro_consented_at", DateTime(timezone=True), nullable=True),
    # Ours, the owner's private labels (partnerships/tags.py): sorted, each between spaces
    # (" gold vip "), so that one LIKE finds a tag; "" for none. Never shown to the partner.
    Column("tags", Text, nullable=False, server_default=text("''")),
    # The owner's commission rate for this partner (percent); NULL follows the product's rate
    # for the partnership's type (partnerships/commission.py).
    Column("commission_rate", Numeric(5, 2), nullable=True),
    UniqueConstraint("product_id", "partner_business_id"),
    UniqueConstraint("product_id", "partner_unique_id"),
    CheckConstraint(
        f"partnership_type IN ({sql_values(PartnershipType)})", name="partnership_type"
    ),
    CheckConstraint(
        f"affiliate_status IN ({sql_values(AffiliateStatus)})", name="affiliate_status"
    ),
    # Keyset pagination: a product's partners by id descending, optionally by status.
    Index("ix_product_partners_product_id_id", "product_id", "id"),
    Index(
        "ix_product_partners_product_id_affiliate_status_id", "product_id", "affiliate_status", "id"
    ),
    # The partner side: every partnership of one partner business.
    Index("ix_product_partners_partner_business_id_id", "partner_business_id", "id"),
    sqlite_autoincrement=True,
)


# The decision on a partner's request (partnerships/decisions.py), written with the request in
# its transaction: the answers it carried and the rules' trace. One per partnership (a new
# request replaces it); none for a partnership the owner added directly.
def _partnership_key() -> Column:
    """A product partnership's id as (part of) the primary key; its rows go with it."""
    return Column(
        "partnership_id",
        Id,
        ForeignKey("product_partners.id", ondelete="CASCADE"),
        primary_key=True,
    )


partnership_decisions = Table(
    "partnership_decisions",
    metadata,
    _partnership_key(),
    Column("outcome", String(16), nullable=False),
    Column("answers", JSON, nullable=False),
    Column("trace", JSON, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

# The partner's own custom domains that the owner approved for one affiliate_pro partnership.
partnership_domains = Table(
    "partnership_domains",
    metadata,
    _partnership_key(),
    Column(
        "custom_domain_id",
        Id,
        ForeignKey("custom_domains.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    _created_at(),
    Index("ix_partnership_domains_custom_domain_id", "custom_domain_id"),
)

# The owner's private notes on a partnership (partnerships/notes.py), with their author as the
# event log records an actor. Never shown to the partner.
partnership_notes = Table(
    "partnership_notes",
    metadata,
    _id(),
    Column(
        "partnership_id",
        Id,
        ForeignKey("product_partners.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("body", Text, nullable=False),
    Column("author_type", String(16), nullable=False),
    Column("author_business_id", Id, nullable=True),
    Column("author_api_key_id", Id, nullable=True),
    Column("author_user_id", Id, nullable=True),
    _created_at(),
    Index("ix_partnership_notes_partnership_id_id", "partnership_id", "id"),
    sqlite_autoincrement=True,
)

bundle_partners = Table(
    "bundle_partners",
    metadata,
    _id(),
    Column("bundle_id", Id, ForeignKey("bundles.id", ondelete="CASCADE"), nullable=False),
    # As on product_partners: NULL while the named unique id belongs to no business.
    Column(
        "partner_business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=True
    ),
    Column("partner_unique_id", String(64), nullable=False),
    _created_at(),
    UniqueConstraint("bundle_id", "partner_business_id"),
    UniqueConstraint("bundle_id", "partner_unique_id"),
    Index("ix_bundle_partners_bundle_id_id", "bundle_id", "id"),
    Index("ix_bundle_partners_partner_business_id_id", "partner_business_id", "id"),
    sqlite_autoincrement=True,
)

# A partner business's consent to share its contact data (BusinessSimple's username,
# account holder and email) with an owner: given by asking to join one of the owner's
# products, or by accepting a partnership the owner created (partnerships/service.py).
partner_consents = Table(
    "partner_consents",
    metadata,
    Column(
        "owner_business_id",
        Id,
        ForeignKey("businesses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "partner_business_id",
        Id,
        ForeignKey("businesses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("consented_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

# The event log (events/): append-only, one row per change, written by events.service.record
# in the transaction of the change. No foreign keys: the log outlives what it describes.
events = Table(
    "events",
    metadata,
    _id(),
    # The stable event id ("evt_" + 26 sortable characters): the webhook-id of its deliveries.
    Column("public_id", String(32), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_business_id", Id, nullable=True),
    Column("actor_api_key_id", Id, nullable=True),
    Column("actor_user_id", Id, nullable=True),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", Id, nullable=False),
    Column("product_id", Id, nullable=True),
    Column("from_status", String(32), nullable=True),
    Column("to_status", String(32), nullable=True),
    Column("reason", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("request_id", String(64), nullable=True),
    # The resource's body after the change, as the API renders it (JSON text).
    Column("data", Text, nullable=False),
    # The audience: the businesses that see the event (listEvents, webhooks).
    Column("owner_business_id", Id, nullable=True),
    Column("partner_business_id", Id, nullable=True),
    # PostgreSQL: the writing transaction's id (DEFAULT pg_current_xact_id(), migration 0011),
    # so that the webhook fan-out (webhooks/fanout.py) reads the log in an order no later
    # commit can insert into. SQLite: NULL (one writer at a time: ids commit in order).
    Column("txid", BigInteger, nullable=True, server_default=FetchedValue()),
    Index("ix_events_owner_business_id_id", "owner_business_id", "id"),
    Index("ix_events_partner_business_id_id", "partner_business_id", "id"),
    Index("ix_events_resource_type_resource_id_id", "resource_type", "resource_id", "id"),
    Index("ix_events_txid_id", "txid", "id"),
    sqlite_autoincrement=True,
)

# How far the webhook fan-out (webhooks/fanout.py) has read the event log: one row, the
# position (txid, id) of the last event whose deliveries it queued (txid 0 on SQLite).
webhook_fanout = Table(
    "webhook_fanout",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_txid", BigInteger, nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("id = 1", name="one_row"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", Text, nullable=True),
    # "*" (every type) or the subscribed types, space-separated with a space at each end
    # (" store.created store.deleted "), so that one LIKE matches a type in SQL.
    Column("event_types", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    # Why the service disabled it (NULL when enabled, or disabled by its business).
    Column("disabled_reason", String(64), nullable=True),
    # The signing secret ("whsec_" + base64), stored as issued: HMAC needs the secret itself,
    # so it cannot be hashed. Protect the database (and its backups) accordingly.
    Column("secret", String(64), nullable=False),
    # After a rotation the previous secret signs too, until it expires (several signatures).
    Column("previous_secret", String(64), nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
    # Since when every attempt has failed (NULL after a success): decides disabling.
    Column("failing_since", DateTime(timezone=True), nullable=True),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("ix_webhook_endpoints_business_id_id", "business_id", "id"),
    sqlite_autoincrement=True,
)

# The outbox: one row per (event, endpoint) to deliver, queued by the worker's fan-out from
# the event log (webhooks/fanout.py), by resend and by replay; the delivery worker claims rows
# with a lease (lease_until, lease_token). event_id has no foreign key: nothing deletes an
# event, and a key's check can read the whole log on a connection that planned it when the
# log was small (migration 0010). Likewise webhook_attempts.delivery_id.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column("event_id", Id, nullable=False),
    Column(
        "endpoint_id",
        Id,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "status",
        String(16),
        nullable=False,
        server_default=text(f"'{DeliveryStatus.scheduled.value}'"),
    ),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("lease_token", String(32), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    CheckConstraint(f"status IN ({sql_values(DeliveryStatus)})", name="status"),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    sqlite_autoincrement=True,
)

# The delivery log: one row per attempt (listWebhookDeliveries).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _id(),
    Column("delivery_id", Id, nullable=False),
    Column(
        "endpoint_id",
        Id,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Id, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("next_retry_at", DateTime(timezone=True), nullable=True),
    Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),
    Index("ix_webhook_attempts_delivery_id", "delivery_id"),
    sqlite_autoincrement=True,
)

# One row per Idempotency-Key a business sent with a POST or PATCH (idempotency/): claimed
# (in_flight) by the first request with INSERT ... ON CONFLICT, then holding its response
# (completed) until expires_at. While in flight, expires_at is the claim's lease: a claim
# left by a process that died is taken over after it.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    # SHA-256 (hex) of the method, path, query and body: the same key for another request
    # is refused.
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    # The stored response (completed): status, headers as a JSON list of [name, value], body.
    Column("status", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"state IN ({sql_values(KeyState)})", name="state"),
    # The sweep of expired keys (idempotency/repository.py).
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# People who sign in to the web dashboard (dashboard/), each for one business; several per
# business. ``email`` is stored lower-cased; ``password_hash`` is argon2id (users/passwords.py).
users = Table(
    "users",
    metadata,
    _id(),
    Column("business_id", Id, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    # Set when disabled: every session of the user is refused from then on, in every process.
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    Index("ix_users_business_id", "business_id"),
    sqlite_autoincrement=True,
)

# Dashboard sign-ins, in the database (never in process memory) so that a revoked session or a
# disabled user is refused at once by every process. ``token_hash``: SHA-256 of the cookie's
# 256 random bits, hex (a fast hash is safe for a random secret).
user_sessions = Table(
    "user_sessions",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_user_sessions_user_id", "user_id"),
    sqlite_autoincrement=True,
)
