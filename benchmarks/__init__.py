"""Benchmarks: measurements printed as tables, never pass/fail tests."""
