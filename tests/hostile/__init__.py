"""Helpers for the issue-5 tests: a real Prefect server per module and `ektp` subprocesses."""
