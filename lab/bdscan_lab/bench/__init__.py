"""Benchmarks over the model zoo: they print the tables docs/results.md (and the README) quote."""
