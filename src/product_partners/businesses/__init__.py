"""Businesses: the tenants. Each owns products, stores and API keys, and can be a partner."""
