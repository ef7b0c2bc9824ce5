"""Ingress YAML text for tests and benchmarks that push or apply real manifests: one rule host,
Prefix paths to one Service port, in the ``gitops-ingress`` class, so every test writes the same
valid shape. (tests/core/ingress_yaml.py builds the deliberately breakable kind.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def ingress(
    name: str,
    host: str,
    service: str,
    *,
    path: str = "/",
    paths: Sequence[str] = (),
    namespace: str = "shop",
    port: int | str = 80,
    labels: Mapping[str, str] | None = None,
    tls_secret: str = "",
) -> str:
    """``port``: a number, or a port name (str). ``tls_secret``: a TLS entry for ``host``."""
    port_spec = f"{{number: {port}}}" if isinstance(port, int) else f"{{name: {port}}}"
    items = "".join(
        f"          - path: {p}\n            pathType: Prefix\n            backend:\n"
        f"              service: {{name: {service}, port: {port_spec}}}\n"
        for p in (paths or (path,))
    )
    label_line = "  labels: {" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}\n" if labels else ""
    tls = f"  tls:\n    - hosts: [{host}]\n      secretName: {tls_secret}\n" if tls_secret else ""
    return (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n{label_line}"
        f"spec:\n  ingressClassName: gitops-ingress\n{tls}  rules:\n"
        f"    - host: {host}\n      http:\n        paths:\n{items}"
    )
