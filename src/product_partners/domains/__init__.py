"""Custom domains of a business (ours: Scalev's v3 API has no custom-domain endpoints)."""
