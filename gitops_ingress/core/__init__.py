"""The pure core: models, loading, validation, routing, diff, naming, settings, reports.

Nothing in this package performs I/O beyond reading the bytes it is handed, and nothing here
imports another part of gitops_ingress (tests/test_layering.py enforces the layers of docs/dev/architecture.md).
"""
