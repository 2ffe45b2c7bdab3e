"""Benchmarks against the real stack (bench/README.md). Not part of the product: nothing here is imported by it."""
