"""The dashboard's pages under ``/dashboard``: thin handlers over ``dashboard.service`` (itself
over the domains' services), HTML in and out.

Every page needs a signed-in user (else: the sign-in page); every POST carries the session's
CSRF token; a service's refusal is shown in words on the page, with its HTTP status, and a
decision on a stale page (its version) is refused with the fresh state. Errors become pages
in one place: :class:`DashboardRoute`.
"""

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from product_partners.dashboard import service
from product_partners.dashboard.errors import FormInvalid, PageNotFound, SignInLimited
from product_partners.dashboard.forms import check_csrf, read_form
from product_partners.dashboard.service import Viewer
from product_partners.dashboard.views import PREFIX, STATIC, error_page, render
from product_partners.domains import service as domains
from product_partners.kit.errors import DomainError
from product_partners.kit.http.deps import Conn, LinkScheme
from product_partners.kit.http.ratelimit import RateLimiter, SweptMemoryStorage
from product_partners.kit.pagination import PageRequest, parse_page
from product_partners.partnerships.errors import (
    CommissionNotApplicable,
    InvalidTransition,
    PartnerNotFound,
    StalePartnership,
)
from product_partners.stores import service as stores
from product_partners.users import service as users

SESSION_COOKIE = "pp_session"
SIGN_IN_COOKIE = "pp_sign_in"  # the sign-in page's CSRF secret (before any session exists)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class SignInRequired(Exception):
    """No live session: the page sends the browser to the sign-in page."""


class DashboardRoute(APIRoute):
    """A page: no session is a redirect to sign in, a service's refusal an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(f"{PREFIX}/login?next={request.url.path}", 303)
            except DomainError as exc:
                viewer = request.scope.get("dashboard_viewer")
                secret = viewer.session_token if viewer else None
                return error_page(request, exc, viewer, secret)

        return page


router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)


async def _viewer(request: Request, conn: Conn) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    user = await users.session_user(conn, token)
    if user is None or token is None:
        raise SignInRequired()
    viewer = Viewer(user.id, user.business_id, user.business_unique_id, user.email, token)
    request.scope["dashboard_viewer"] = viewer
    # For the request log and the event log: what this user does is attributed to it
    # (events.service.current_actor).
    request.state.business_id = viewer.business_id
    request.state.user_id = viewer.user_id
    return viewer


SignedIn = Annotated[Viewer, Depends(_viewer)]


def _page(
    viewer: Viewer, request: Request, template: str, status: int = 200, **ctx: Any
) -> Response:
    return render(request, template, status, secret=viewer.session_token, viewer=viewer, **ctx)


def _done(url: str, key: str) -> RedirectResponse:
    return RedirectResponse(f"{url}{'&' if '?' in url else '?'}done={key}", 303)


def _page_request(next_cursor: str | None, previous_cursor: str | None) -> PageRequest:
    return parse_page(next_cursor or None, previous_cursor or None, None)


async def _posted(request: Request, viewer: Viewer) -> Any:
    form = await read_form(request)
    check_csrf(form, viewer.session_token)
    return form


# --- signing in and out ------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    """Cookies are Secure except on a loopback address (``make run``'s plain http)."""
    return request.url.scheme == "https" or request.url.hostname not in _LOOPBACK


def _safe_next(raw: str | None) -> str:
    if raw and raw.startswith(f"{PREFIX}/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return f"{PREFIX}/products"


@router.get("")
async def home() -> Response:
    return RedirectResponse(f"{PREFIX}/products", 303)


@router.get("/login")
async def login_page(request: Request, conn: Conn, next: str | None = None) -> Response:
    if await users.session_user(conn, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(_safe_next(next), 303)
    return _login_form(request, next=next)


def _login_form(
    request: Request, status: int = 200, *, next: str | None = None, **ctx: Any
) -> Response:
    secret = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", status, secret=secret, next=next or "", **ctx)
    response.set_cookie(
        SIGN_IN_COOKIE, secret, httponly=True, secure=_secure(request), samesite="lax", path=PREFIX
    )
    return response


@router.post("/login")
async def login(request: Request, conn: Conn) -> Response:
    form = await read_form(request)
    check_csrf(form, request.cookies.get(SIGN_IN_COOKIE))
    email, next_url = form.get("email").strip(), form.get("next")
    try:
        await _spend_sign_in(request, email)
        _, token = await users.sign_in(conn, email, form.get("password"))
    except DomainError as exc:  # wrong credentials, too many attempts, a disabled user
        refused = _login_form(request, exc.status_code, next=next_url, email=email, error=exc)
        refused.headers.update(exc.headers)  # Retry-After when limited
        return refused
    response = RedirectResponse(_safe_next(next_url), 303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=_secure(request),
        samesite="lax",
        path=PREFIX,
    )
    return response


async def _spend_sign_in(request: Request, email: str) -> None:
    """One sign-in attempt, counted per account and per address (in Redis when the API's
    rate limits are, so every process shares the count; else in this process)."""
    state = request.app.state
    limiters: tuple[RateLimiter, RateLimiter] | None = getattr(state, "sign_in_limiters", None)
    if limiters is None:
        shared = getattr(state, "rate_limiter", None)
        storage = shared.storage if shared is not None else SweptMemoryStorage()
        settings = state.settings
        limiters = (
            RateLimiter(settings.dashboard_sign_in_limit, storage),
            RateLimiter(settings.dashboard_sign_in_address_limit, storage),
        )
        state.sign_in_limiters = limiters
    client = request.client.host if request.client else "unknown"
    for limiter, key in zip(
        limiters, (f"account:{email.lower()}", f"address:{client}"), strict=True
    ):
        decision = await limiter.hit(f"sign-in:{key}")
        if decision is not None and not decision.allowed:
            raise SignInLimited(headers={"Retry-After": str(decision.retry_after)})


@router.post("/logout")
async def logout(request: Request, conn: Conn, viewer: SignedIn) -> Response:
    await _posted(request, viewer)
    await users.sign_out(conn, viewer.session_token)
    response = _done(f"{PREFIX}/login", "signed_out")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# --- owner: products, review queue, decisions, settings ----------------------------------------


@router.get("/products")
async def products_page(
    request: Request,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> Response:
    page = _page_request(next_cursor, previous_cursor)
    body = await service.products_page(conn, viewer, page, scheme)
    return _page(viewer, request, "products.html", products=body, base=str(request.base_url))


@router.get("/products/{product_id}")
async def queue_page(
    request: Request,
    product_id: str,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
    status: str | None = None,
    type: str | None = None,
    q: str | None = None,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> Response:
    filters = service.queue_filters(status, type, q)
    page = _page_request(next_cursor, previous_cursor)
    body = await service.queue_page(conn, viewer, product_id, filters, page, scheme)
    return _page(viewer, request, "queue.html", filters=filters, tab=status or "", **body)


@router.post("/products/{product_id}/bulk")
async def bulk(
    request: Request, product_id: str, conn: Conn, viewer: SignedIn, scheme: LinkScheme
) -> Response:
    form = await _posted(request, viewer)
    product = await service.products.get_product(conn, viewer.business_id, product_id)
    try:
        results = await service.bulk_decide(conn, viewer, product_id, form, scheme)
    except FormInvalid as exc:
        return _page(viewer, request, "bulk.html", exc.status_code, product=product, error=exc)
    return _page(viewer, request, "bulk.html", product=product, results=results)


@router.get("/products/{product_id}/partners/{partnership_id}")
async def partnership_page(
    request: Request,
    product_id: str,
    partnership_id: str,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
    confirm: str | None = None,
) -> Response:
    body = await service.partnership_page(conn, viewer, product_id, partnership_id, scheme)
    asked = confirm if confirm in service.CONFIRMED_DECISIONS else None
    return _page(viewer, request, "partnership.html", confirm=asked, **body)


@router.post("/products/{product_id}/partners/{partnership_id}/notes/{note_id}/delete")
async def delete_note(
    request: Request,
    product_id: str,
    partnership_id: str,
    note_id: str,
    conn: Conn,
    viewer: SignedIn,
) -> Response:
    await _posted(request, viewer)
    await service.delete_note(conn, viewer, product_id, partnership_id, note_id)
    return _done(f"{PREFIX}/products/{product_id}/partners/{partnership_id}", "delete_note")


@router.post("/products/{product_id}/partners/{partnership_id}/{action}")
async def decide(
    request: Request,
    product_id: str,
    partnership_id: str,
    action: str,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
) -> Response:
    if action not in service.OWNER_DECISIONS and action not in service.BOOKKEEPING:
        raise PageNotFound()
    form = await _posted(request, viewer)
    try:
        if action in service.BOOKKEEPING:
            await service.bookkeep(conn, viewer, product_id, partnership_id, action, form, scheme)
        else:
            await service.decide(conn, viewer, product_id, partnership_id, action, form, scheme)
    except (StalePartnership, InvalidTransition, FormInvalid, CommissionNotApplicable) as exc:
        # The fresh state, with the refusal in words (and the form kept for a second try).
        body = await service.partnership_page(conn, viewer, product_id, partnership_id, scheme)
        confirmed = action in service.CONFIRMED_DECISIONS
        confirm = action if isinstance(exc, FormInvalid) and confirmed else None
        return _page(
            viewer,
            request,
            "partnership.html",
            exc.status_code,
            error=exc,
            failed_action=action,
            form=form,
            confirm=confirm,
            **body,
        )
    if action == "remove":
        return _done(f"{PREFIX}/products/{product_id}", action)
    return _done(f"{PREFIX}/products/{product_id}/partners/{partnership_id}", action)


@router.post("/products/{product_id}/partners/{partnership_id}/domains/{domain_id}/{change}")
async def pro_domain(
    request: Request,
    product_id: str,
    partnership_id: str,
    domain_id: str,
    change: str,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
) -> Response:
    if change not in ("approve", "revoke"):
        raise PageNotFound()
    await _posted(request, viewer)
    approve = change == "approve"
    await service.approve_domain(
        conn, viewer, product_id, partnership_id, domain_id, approve, scheme
    )
    url = f"{PREFIX}/products/{product_id}/partners/{partnership_id}"
    return _done(url, f"{change}_domain")


@router.get("/products/{product_id}/settings")
async def settings_page(
    request: Request, product_id: str, conn: Conn, viewer: SignedIn
) -> Response:
    product = await service.products.get_product(conn, viewer.business_id, product_id)
    return _page(viewer, request, "settings.html", product=product, values=product)


@router.post("/products/{product_id}/settings/preview")
async def settings_preview(
    request: Request, product_id: str, conn: Conn, viewer: SignedIn
) -> Response:
    form = await _posted(request, viewer)
    product = await service.products.get_product(conn, viewer.business_id, product_id)
    values = _settings_values(form)
    try:
        _, changes = await service.settings_preview(conn, viewer, product_id, form)
    except FormInvalid as exc:
        return _page(
            viewer, request, "settings.html", exc.status_code, product=product, values=values,
            error=exc,
        )  # fmt: skip
    return _page(
        viewer, request, "settings_preview.html", product=product, values=values, changes=changes
    )


@router.post("/products/{product_id}/settings")
async def settings_save(
    request: Request, product_id: str, conn: Conn, viewer: SignedIn, scheme: LinkScheme
) -> Response:
    form = await _posted(request, viewer)
    product = await service.products.get_product(conn, viewer.business_id, product_id)
    try:
        await service.save_settings(conn, viewer, product_id, form, scheme)
    except FormInvalid as exc:
        return _page(
            viewer, request, "settings.html", exc.status_code, product=product,
            values=_settings_values(form), error=exc,
        )  # fmt: skip
    return _done(f"{PREFIX}/products", "settings")


def _settings_values(form: Any) -> dict[str, Any]:
    """The form as sent, to show it again (a preview, or a refusal)."""
    values: dict[str, Any] = {name: form.has(name) for name in service.BOOLEAN_SETTINGS}
    for name in (
        "affiliate_commission_rate",
        "affiliate_pro_commission_rate",
        "partnership_sales_letter",
        "rerequest_cooldown_seconds",
    ):
        values[name] = form.get(name)
    return values


# --- partner: my partnerships, joining ---------------------------------------------------------


@router.get("/partnerships")
async def my_partnerships(
    request: Request,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> Response:
    page = _page_request(next_cursor, previous_cursor)
    return await _my_partnerships(request, conn, viewer, scheme, page)


async def _my_partnerships(
    request: Request,
    conn: Any,
    viewer: Viewer,
    scheme: str,
    page: PageRequest,
    status: int = 200,
    **ctx: Any,
) -> Response:
    body = await service.my_partnerships(conn, viewer, page, scheme)
    my_stores = await stores.list_stores(conn, viewer.business_id, PageRequest())
    return _page(
        viewer, request, "my_partnerships.html", status, partnerships=body,
        stores=my_stores["data"], **ctx,
    )  # fmt: skip


@router.post("/partnerships/{partnership_id}/{action}")
async def partner_decide(
    request: Request,
    partnership_id: str,
    action: str,
    conn: Conn,
    viewer: SignedIn,
    scheme: LinkScheme,
) -> Response:
    if action not in service.PARTNER_DECISIONS:
        raise PageNotFound()
    form = await _posted(request, viewer)
    try:
        await service.partner_decide(conn, viewer, partnership_id, action, form, scheme)
    except (StalePartnership, InvalidTransition, FormInvalid, PartnerNotFound) as exc:
        return await _my_partnerships(
            request, conn, viewer, scheme, PageRequest(), exc.status_code, error=exc
        )
    return _done(f"{PREFIX}/partnerships", action)


@router.get("/join/{product_id}")
async def join_page(request: Request, product_id: str, conn: Conn, viewer: SignedIn) -> Response:
    body = await service.join_page(conn, viewer, product_id)
    return _page(viewer, request, "join.html", values={}, **body)


@router.post("/join/{product_id}")
async def join(
    request: Request, product_id: str, conn: Conn, viewer: SignedIn, scheme: LinkScheme
) -> Response:
    form = await _posted(request, viewer)
    try:
        await service.join(conn, viewer, product_id, form, scheme)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        body = await service.join_page(conn, viewer, product_id)
        values = {name: form.get(name) for name in ("partnership_type", "message", "store_id")}
        for question in body["questions"]:
            name = service.ANSWER_FIELD + question["id"]
            values[name] = form.get(name)
        return _page(
            viewer, request, "join.html", exc.status_code, values=values, error=exc, **body
        )
    return _done(f"{PREFIX}/partnerships", "request")


# --- the business's stores and domains ---------------------------------------------------------


@router.get("/business")
async def business_page(request: Request, conn: Conn, viewer: SignedIn) -> Response:
    my_stores = await stores.list_stores(conn, viewer.business_id, PageRequest())
    my_domains = await domains.list_domains(conn, viewer.business_id, PageRequest())
    return _page(viewer, request, "business.html", stores=my_stores, domains=my_domains["data"])


def install(app: FastAPI) -> None:
    """Mount the dashboard on ``app``: its pages and its static files (served from the
    package: no CDN)."""
    app.include_router(router)
    app.mount(
        STATIC,
        StaticFiles(packages=[("product_partners.dashboard", "static")]),
        name="dashboard-static",
    )
