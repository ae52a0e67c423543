"""GET /metrics: Prometheus text with request counts and latency by route template and status,
and partnerships by status counted at scrape time."""

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.settings import Settings
from tests.support.api import Api
from tests.support.ops import app_client
from tests.support.servers import free_port


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _partnerships(samples: dict) -> float:
    return sum(v for (name, _), v in samples.items() if name == "product_partners_partnerships")


async def test_requests_are_counted_by_route_template_and_status(engine: AsyncEngine) -> None:
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner = await api.actor()
        product = await api.product(owner)
        partners = f"/v3/products/{product['id']}/partners"
        await client.get(partners, headers=owner.headers)
        await client.get(partners, headers=owner.headers)
        await client.get("/v3/products/999999999/partners", headers=owner.headers)
        await client.get(partners)
        await client.get("/no/such/route")

        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = _samples(response.text)
        template = "/v3/products/{product_id}/partners"
        count = "product_partners_http_requests_total"
        assert _value(samples, count, method="GET", route=template, status="200") == 2
        assert _value(samples, count, method="GET", route=template, status="404") == 1
        assert _value(samples, count, method="GET", route=template, status="401") == 1
        assert _value(samples, count, method="GET", route="unmatched", status="404") == 1
        assert _value(samples, count, method="POST", route="/v3/products", status="200") == 1
        histogram = "product_partners_http_request_duration_seconds"
        assert (
            _value(samples, f"{histogram}_count", method="GET", route=template, status="200") == 2
        )
        assert (
            _value(
                samples,
                f"{histogram}_bucket",
                method="GET",
                route=template,
                status="200",
                le="+Inf",
            )
            == 2
        )
        # Raw paths never become label values; probes and scrapes are not counted.
        routes = {dict(labels).get("route") for (_, labels) in samples} - {None}
        assert routes <= {template, "/v3/products", "unmatched"}, routes
        assert "/healthz" not in response.text and 'route="/metrics"' not in response.text


async def test_partnerships_are_counted_by_status_at_scrape_time(engine: AsyncEngine) -> None:
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner, partner = await api.actor(), await api.business()
        product = await api.product(owner)
        before = _samples((await client.get("/metrics")).text)
        assert {labels for (name, labels) in before if name == "product_partners_partnerships"} >= {
            (("status", s),) for s in ("pending", "approved", "rejected", "banned")
        }
        assert (
            await api.add_partner(owner, product["id"], partner["unique_id"])
        ).status_code == 200
        after = _samples((await client.get("/metrics")).text)
        assert _partnerships(after) == _partnerships(before) + 1
        assert _value(after, "product_partners_database_up") == 1


async def test_scrape_reports_the_database_down_instead_of_failing() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    engine = create_engine(Settings(database_url=url, database_timeout=1))
    try:
        async with app_client(engine, database_timeout=1) as (client, _app):
            response = await client.get("/metrics")
            assert response.status_code == 200
            samples = _samples(response.text)
            assert _value(samples, "product_partners_database_up") == 0
            assert _partnerships(samples) == 0
    finally:
        await engine.dispose()
