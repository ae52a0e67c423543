"""Logging: one JSON object per line for machines, a readable line for people at a terminal.

``LOG_FORMAT`` is ``json``, ``text`` or ``auto`` (text when stdout is a terminal). The request
middleware writes one line per request on the ``product_partners.access`` logger; its fields
travel in ``record.fields`` and become top-level keys of the JSON object. Nothing secret is
ever put there: no API keys, tokens or Authorization headers, no query strings.

Every field is escaped in every format: JSON escapes control characters itself; the text
format writes a value that is not plain printable ASCII as a JSON string, and escapes control
characters in the message, so a path with ``%0A`` in it cannot forge a line or a field.
"""

import asyncio
import logging
import logging.config
import math
import re
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import orjson

from product_partners.settings import Settings

access_log = logging.getLogger("product_partners.access")

# A record is made for every request. Our formatters print none of these fields; left on,
# every record looks up its thread's and process's names (and, from Python 3.12, its task's).
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
setattr(logging, "logAsyncioTasks", False)  # noqa: B010 - absent before 3.12


def log_request(level: int, fields: dict[str, Any]) -> None:
    """The request line, on ``access_log``. ``Logger.log`` would first walk the stack to find
    the caller's file and line, which nothing prints: a third of a line's cost."""
    if access_log.isEnabledFor(level):
        access_log.handle(
            access_log.makeRecord(
                access_log.name, level, "", 0, "request", (), None, extra={"fields": fields}
            )
        )


class LineHandler(logging.StreamHandler):
    """The service's stdout handler: request lines written in batches.

    Every request logs a line, and writing each one to the stream cost more than making it (a
    system call, and a file system update when stdout is a file: a tenth of a busy worker's
    CPU, bench/NOTES.md). In the event loop's thread a request line (``batched``, the access
    log's) is held; the lines held are formatted and written in one piece at most
    ``interval`` seconds later, or once ``capacity`` are held. Any other record, and any
    record from another thread or outside a loop, is written at once, after the held lines,
    so lines keep their order. A server stopping logs at once (uvicorn: "Shutting down",
    "Waiting for application shutdown"), which writes every request line before it even when
    the process then ends by a signal, without exit handlers; ``flush`` (also at exit,
    ``logging.shutdown``) writes them too. A process that is killed loses at most the last
    ``interval`` seconds of request lines.
    """

    def __init__(
        self,
        stream: Any = None,
        interval: float = 0.1,
        capacity: int = 500,
        batched: str = access_log.name,
    ) -> None:
        super().__init__(stream)
        self.interval = interval
        self.capacity = capacity
        self.batched = batched
        self._held: list[logging.LogRecord] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or record.name != self.batched:
            self._write([record])
            return
        # As QueueHandler.prepare: the message is fixed now, not from arguments changed later.
        try:
            record.msg, record.args = record.getMessage(), None
        except Exception:  # noqa: BLE001 - as StreamHandler.emit: report, go on
            self.handleError(record)
            return
        self._held.append(record)
        if len(self._held) >= self.capacity:
            self._write()
        elif self._timer is None or self._timer_loop is not loop:
            # (A timer of a loop that has ended never fires: this loop's takes over.)
            self._timer = loop.call_later(self.interval, self._on_timer)
            self._timer_loop = loop

    def flush(self) -> None:
        with self.lock or nullcontext():
            self._write()

    def _on_timer(self) -> None:
        with self.lock or nullcontext():
            self._timer = None
            self._write()

    def _write(self, more: list[logging.LogRecord] | None = None) -> None:
        records, self._held = self._held, []
        if more:
            records += more
        lines = []
        for record in records:
            try:
                lines.append(self.format(record) + self.terminator)
            except Exception:  # noqa: BLE001 - as StreamHandler.emit: report, go on
                self.handleError(record)
        try:
            if lines:
                self.stream.write("".join(lines))
            super().flush()
        except Exception:  # noqa: BLE001 - a full disk or a closed pipe: report, never raise
            self.handleError(records[-1] if records else _NO_RECORD)


# What a failed flush with nothing held reports to ``Handler.handleError``.
_NO_RECORD = logging.makeLogRecord({"msg": "flushing the log stream"})


class Throttle:
    """At most one log line per ``interval`` seconds about a recurring condition (a database
    outage answers every request with 503: one line each would flood the log)."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last = -math.inf
        self._left_out = 0

    def admit(self) -> int | None:
        """None: leave this occurrence out. Otherwise log it, with the returned number of
        occurrences left out since the last line."""
        now = time.monotonic()
        if now - self._last < self.interval:
            self._left_out += 1
            return None
        left_out, self._left_out, self._last = self._left_out, 0, now
        return left_out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            data.update(fields)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


# A text field value printed as is: printable ASCII without spaces, quotes or backslashes.
_PLAIN = re.compile(r"[!#-\[\]-~]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def text_value(value: Any) -> str:
    """A field's value for a text line: as is when plain, else a JSON string (escaped)."""
    text = str(value)
    return text if _PLAIN.fullmatch(text) else _escape_controls(orjson.dumps(text).decode())


def _escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = _escape_controls(record.getMessage())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {message}"
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(
                f"{k}={text_value(v)}" for k, v in fields.items() if v is not None
            )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve_format(log_format: str, stream: Any = None) -> str:
    """``json`` or ``text``; ``auto`` picks text for a terminal."""
    choice = log_format.strip().lower()
    if choice in ("json", "text"):
        return choice
    if choice != "auto":
        raise ValueError(f"LOG_FORMAT must be auto, json or text, not {log_format!r}")
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def logging_config(settings: Settings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the service and uvicorn (``serve`` passes it to
    uvicorn, which applies it in every worker process)."""
    formatter = JsonFormatter if resolve_format(settings.log_format) == "json" else TextFormatter
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stdout": {
                "class": f"{LineHandler.__module__}.{LineHandler.__qualname__}",
                "formatter": "default",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # uvicorn's own loggers go through ours (one format); its access log is off: the
            # request middleware writes a richer line per request.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # /readyz reads the schema revision through Alembic, which announces itself at INFO.
            "alembic": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }
