"""A business's stores (Scalev's BusinessStore) and the custom domain each one uses."""
