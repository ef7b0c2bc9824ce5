"""The pure core: models, loading, validation, routing, diff, naming, settings, reports.

Nothing in this package performs I/O beyond reading the bytes it is handed, and nothing here
imports another part of gitops_ingress (a test enforces the layering of DESIGN section 7).
"""
