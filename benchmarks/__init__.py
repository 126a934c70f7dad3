"""Benchmarks: run against the embedded fake server on loopback; see README.md here."""
