"""Running in production: health routes, metrics, logs, the server."""
