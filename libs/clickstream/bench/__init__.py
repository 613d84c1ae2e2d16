"""Benchmarks: the local pipeline against a Spark scan baseline and a DuckDB reference."""
