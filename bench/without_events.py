"""The service with its add-partner's event write taken out: the "before" of issue 13's budget.

``python -m bench.without_events serve ...`` is ``product-partners serve ...`` (one worker:
uvicorn imports the app in this process), except that the hot path's add
(partnerships/hotpath.py), in this process only, inserts its dry run's row WITHOUT the event
(``add_as_dry_run`` on its own, instead of ``add_with_event``) and builds no
event. The key lookup with the dry run, the checks, the body and everything else are the
service's own, on its defaults. bench/run.py serves it beside the service for add:
``1 - service / this`` is what writing the event costs add-partner's throughput.

Never a way to run the service: an add made here has no event, which the event log forbids.
"""

import sys
from typing import Any

from sqlalchemy import select

from product_partners.cli.main import main
from product_partners.partnerships import hotpath


def _no_event(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
    return {}


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


def take_out_event_write() -> None:
    """The hot path's add without its event: the same insert, selected on its own."""
    hotpath.STATEMENTS["add"] = select(hotpath.add_as_dry_run())
    hotpath.event_values = _no_event  # type: ignore[assignment]
    hotpath.shared = _as_is  # type: ignore[assignment]  # the partner's view, for the event


if __name__ == "__main__":
    take_out_event_write()
    sys.exit(main(sys.argv[1:]))
