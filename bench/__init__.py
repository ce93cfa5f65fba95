"""Benchmarks of the workflow service (issue 6): `python -m bench`, described in docs/performance.md.

Each benchmark measures the service and a reference side by side in the same run and reports the
ratio: the SQL floor, SpiffWorkflow, a hello-world endpoint, the 10³-case database, the warmed-up
worker. Nothing here is imported by the service.
"""
