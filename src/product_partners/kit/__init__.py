"""Shared machinery that knows nothing of partnerships: HTTP (middleware, guards, the error
body, OpenAPI, rate limits), operations (health, metrics, logs, serving), errors, ids, pages."""
