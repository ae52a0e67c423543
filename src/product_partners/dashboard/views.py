"""Rendering: the Jinja2 templates of this package, times as ``<time>`` elements, the notices
shown after an action, and an error in words on an HTML page."""

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from product_partners.dashboard.forms import CSRF_FIELD, csrf_token
from product_partners.kit.errors import DomainError
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import AffiliateStatus, BanReason, PartnershipType

PREFIX = "/dashboard"
STATIC = f"{PREFIX}/static"

# Served with every page: nothing from another origin, no inline script, no framing.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# What a page says after an action (``?done=<key>``): fixed texts, never the query's.
NOTICES = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "ban": "Banned.",
    "unban": "The ban is lifted (the partnership is now rejected).",
    "remove": "The partnership is deleted.",
    "settings": "Settings saved.",
    "request": "Your request is sent.",
    "withdraw": "Your request is withdrawn.",
    "leave": "You left the partnership.",
    "accept": "Partnership accepted.",
    "approve_domain": "Domain approved for links.",
    "revoke_domain": "Domain approval revoked.",
    "tags": "Tags saved.",
    "notes": "Note added.",
    "delete_note": "Note deleted.",
    "commission": "Commission rate saved.",
    "signed_out": "You are signed out.",
}

STATUS_WORDS = {
    AffiliateStatus.pending: "Pending",
    AffiliateStatus.approved: "Approved",
    AffiliateStatus.rejected: "Rejected",
    AffiliateStatus.banned: "Banned",
}
TYPE_WORDS = {
    PartnershipType.affiliate: "Affiliate",
    PartnershipType.affiliate_pro: "Affiliate Pro",
    PartnershipType.reseller: "Reseller",
}
BAN_WORDS = {
    BanReason.fraud: "Fraud",
    BanReason.spam: "Spam",
    BanReason.brand_misuse: "Brand misuse",
    BanReason.policy_violation: "Policy violation",
    BanReason.chargebacks: "Chargebacks",
    BanReason.inactive: "Inactive",
    BanReason.other: "Other",
}


def time_tag(value: datetime | str | None) -> Markup:
    """A UTC time as ``<time datetime=...>``: readable UTC without JavaScript; the page's
    script shows it in the viewer's time zone."""
    if value is None:
        return Markup("—")
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    iso = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = value.strftime("%Y-%m-%d %H:%M UTC")
    return Markup(f'<time datetime="{iso}">{escape(text)}</time>')


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("product_partners.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = time_tag
    env.globals.update(
        prefix=PREFIX,
        static=STATIC,
        csrf_field=CSRF_FIELD,
        status_words=STATUS_WORDS,
        type_words=TYPE_WORDS,
        ban_words=BAN_WORDS,
        statuses=[s.value for s in AffiliateStatus],
        types=[t.value for t in PartnershipType],
        ban_reasons=[r.value for r in BanReason],
        pro_type=PartnershipType.affiliate_pro.value,
        pending=AffiliateStatus.pending.value,
        approved=AffiliateStatus.approved.value,
        affiliate=PartnershipType.affiliate.value,
        owner=tt.OWNER,
        partner=tt.PARTNER,
        can=lambda actor, status, action: tt.find(actor, status, action) is not None,
    )
    return env


_ENV = _environment()


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    *,
    secret: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template``; ``secret``: the session's (or sign-in page's) secret, whose CSRF
    token every form of the page carries."""
    done = request.query_params.get("done", "")
    html = _ENV.get_template(template).render(
        request=request,
        csrf=csrf_token(secret) if secret else "",
        notice=NOTICES.get(done),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


def error_page(
    request: Request, exc: DomainError, viewer: Any = None, secret: str | None = None
) -> HTMLResponse:
    response = render(
        request, "error.html", exc.status_code, secret=secret, viewer=viewer, error=exc
    )
    response.headers.update(exc.headers)  # e.g. Retry-After
    return response
