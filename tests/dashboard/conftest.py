import pytest
from fastapi import FastAPI

from product_partners.app import create_app


@pytest.fixture(scope="session")
def dashboard_app(settings, engine) -> FastAPI:
    """The app whose dashboard the tests browse (the session's database)."""
    return create_app(settings, engine=engine)
