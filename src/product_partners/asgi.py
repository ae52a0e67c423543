"""ASGI entry point for servers: ``uvicorn product_partners.asgi:app``."""

from product_partners.app import create_app

app = create_app()
