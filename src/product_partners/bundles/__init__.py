"""Bundles and their partners (Scalev's Bundle and BundlePartner)."""
