"""Ingest: the landing zone read safely, named, parsed, validated by the suites and pseudonymised."""
