"""Product partnerships: who may sell a product, as what, and in which status."""
