"""Reliability, privacy and security tests (issue 9): ``pytest -m reliability`` runs them alone.

``python -m bench.reliability`` runs them and prints the figures of the README's "Reliability"
section (inputs tried, faults injected, requests under load)."""
