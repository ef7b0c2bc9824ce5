"""Ingress YAML text for tests and benchmarks that push real commits (one rule host, Prefix paths
to one Service port), so every test writes the same, valid shape."""

from __future__ import annotations

from collections.abc import Sequence


def ingress(
    name: str,
    host: str,
    service: str,
    *,
    path: str = "/",
    paths: Sequence[str] = (),
    namespace: str = "shop",
    port: int = 80,
) -> str:
    items = "".join(
        f"          - path: {p}\n            pathType: Prefix\n            backend:\n"
        f"              service: {{name: {service}, port: {{number: {port}}}}}\n"
        for p in (paths or (path,))
    )
    return (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
        "spec:\n  ingressClassName: gitops-ingress\n  rules:\n"
        f"    - host: {host}\n      http:\n        paths:\n{items}"
    )
