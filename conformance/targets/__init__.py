"""Target adapters: each answers case-format v1 cases the way one implementation does."""
