"""API keys: creation, hashing, verification and the scope each route needs."""
