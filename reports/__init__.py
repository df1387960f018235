"""Consumers of results: the conformance matrix and the regression report (issue 5)."""
