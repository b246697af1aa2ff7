"""Benchmarks over the model zoo: they print the tables the README quotes."""
