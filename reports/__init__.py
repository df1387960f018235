"""Consumers of results: the conformance matrix and the regression report for policy authors."""
