"""Idempotency-Key: a POST or PATCH sent again with the same key is answered from the first
response, not run again (``middleware.py``; the rules in ``service.py``)."""
