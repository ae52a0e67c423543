"""HTTP machinery every route shares: request middleware and guards, the error body,
OpenAPI pieces, rate limits, request dependencies."""
