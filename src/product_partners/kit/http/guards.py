"""Request-shape checks before any routing or validation: a pure ASGI middleware.

For a request that carries a body (POST, PUT, PATCH):

- ``Content-Type`` must be JSON (``application/json`` or ``application/*+json``, charset UTF-8
  if one is named): otherwise **415** ``unsupported_media_type``. Under ``form_prefixes``
  (the web dashboard's HTML forms) a URL-encoded form is accepted too, and at the paths
  ``csv_paths`` matches (an import) ``text/csv`` (UTF-8). A body sent **without** a
  ``Content-Type`` is read as JSON (clients such as Scalev's own send JSON without thinking
  about it); an empty body is left to validation (400 when the operation needs one).
- The body must be valid UTF-8: otherwise **400** ``invalid_encoding``.
- JSON nesting deeper than :data:`MAX_DEPTH` is **400** ``too_deeply_nested``: no request
  body of this API nests more than a few levels, and the parser must never recurse deeply.
- A NUL character (PostgreSQL cannot store or compare one) is **400** ``nul_character`` in a
  body string or a query parameter, and **404** in the path (no row can be named by it).

The body is already capped by :class:`~product_partners.middleware.RequestContextMiddleware`
(413), which wraps this middleware. Cost per request: a header scan; for bodies, one C-level
UTF-8 decode and two ``bytes.count`` calls (the exact depth scan only runs for bodies that hold
more brackets than the limit).
"""

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_partners.kit.http.errors import error_response

MAX_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestGuardsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_depth: int = MAX_DEPTH,
        form_prefixes: tuple[str, ...] = (),
        csv_paths: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.max_depth = max_depth
        self.form_prefixes = form_prefixes
        self.csv_paths = csv_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            # No row can be named with a NUL, and PostgreSQL cannot even compare one.
            in_path = "\x00" in scope["path"]
            response = error_response(
                404 if in_path else 400,
                "not_found" if in_path else "nul_character",
                "No such route." if in_path else "Query parameters cannot contain NUL (%00).",
                {} if in_path else {"query": ["contains a NUL character"]},
            )
            await response(scope, receive, send)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        body, more = await read_body(receive)
        problem = None
        if body and self._is_csv(content_type, scope["path"]):
            problem = _csv_problem(body)
        elif body:
            is_form = _is_form(content_type) and scope["path"].startswith(self.form_prefixes)
            problem = (None if is_form else _content_type_problem(content_type)) or (
                self._body_problem(body)
            )
        if problem is not None:
            status, code, message, field_message = problem
            response = error_response(status, code, message, {"body": [field_message]})
            await response(scope, receive, send)
            return
        if body and content_type is None:
            # Read as JSON, as documented: the framework only parses a declared JSON body.
            # The scope itself is changed, not a copy: the route the router records in it is
            # the request log's and the metrics' label (a copy left them "unmatched").
            scope["headers"] = [*scope["headers"], (b"content-type", b"application/json")]
        await self.app(scope, replay_body(body, more, receive), send)

    def _is_csv(self, content_type: str | None, path: str) -> bool:
        media_type, _, params = (content_type or "").partition(";")
        return (
            self.csv_paths is not None
            and media_type.strip().lower() == "text/csv"
            and _charset(params) in (None, "utf-8", "utf8")
            and self.csv_paths.fullmatch(path) is not None
        )

    def _body_problem(self, body: bytes) -> tuple[int, str, str, str] | None:
        if not _is_utf8(body):
            return _NOT_UTF8
        if b"\\u0000" in body and _has_nul_escape(body):
            return (
                400,
                "nul_character",
                "Strings in the body cannot contain NUL (\\u0000).",
                "a string contains a NUL character",
            )
        if body.count(b"[") + body.count(b"{") > self.max_depth and (
            json_depth(body) > self.max_depth
        ):
            return (
                400,
                "too_deeply_nested",
                f"The JSON body nests deeper than {self.max_depth} levels.",
                f"nests deeper than {self.max_depth} levels",
            )
        return None


def _content_type_problem(content_type: str | None) -> tuple[int, str, str, str] | None:
    if content_type is None:
        return None  # documented: a body without Content-Type is read as JSON
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    if is_json and _charset(params) in (None, "utf-8", "utf8"):
        return None
    return (
        415,
        "unsupported_media_type",
        "Send the body as JSON: 'Content-Type: application/json' (UTF-8).",
        f"content type {media_type or 'missing'!r} is not application/json",
    )


_NOT_UTF8 = (400, "invalid_encoding", "The request body is not valid UTF-8.", "is not UTF-8")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _charset(params: str) -> str | None:
    """The ``charset`` of a Content-Type's parameters (after the ``;``), lower case."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _csv_problem(body: bytes) -> tuple[int, str, str, str] | None:
    """A CSV body: UTF-8, and no NUL (PostgreSQL cannot store one)."""
    if not _is_utf8(body):
        return _NOT_UTF8
    if b"\x00" in body:
        return (
            400,
            "nul_character",
            "The CSV body cannot contain a NUL character.",
            "contains a NUL character",
        )
    return None


def _is_form(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/x-www-form-urlencoded"


def _has_nul_escape(body: bytes) -> bool:
    """Whether a JSON string in ``body`` holds ``\\u0000`` (not an escaped backslash + "u0000")."""
    start = body.find(b"\\u0000")
    while start != -1:
        backslashes = 0
        while start - backslashes - 1 >= 0 and body[start - backslashes - 1] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            return True
        start = body.find(b"\\u0000", start + 1)
    return False


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body (the outer middleware caps its size). ``more`` is True if the client
    disconnected before the end (the app then sees the disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay_body(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A receive that hands out the body read by :func:`read_body` once, then the client's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
