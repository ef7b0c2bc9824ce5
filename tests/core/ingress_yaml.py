"""Small YAML text builders for the core validation tests (plain strings, easy to break on purpose)."""

from __future__ import annotations

import textwrap


def ingress(
    name: str = "web",
    *,
    namespace: str | None = "shop",
    host: str | None = "shop.example.com",
    path: str | None = "/",
    path_type: str | None = "Prefix",
    backend: str = "service:\n  name: web\n  port:\n    number: 80",
    annotations: dict[str, str] | None = None,
    extra_spec: str = "",
    class_name: str | None = None,
) -> str:
    meta = f"  name: {name}\n"
    if namespace is not None:
        meta += f"  namespace: {namespace}\n"
    if annotations:
        meta += "  annotations:\n" + "".join(f'    {k}: "{v}"\n' for k, v in annotations.items())
    entry = ""
    if path is not None:
        entry += f'      - path: "{path}"\n'
    else:
        entry += "      - backend: {}\n"
    if path_type is not None:
        entry += f"        pathType: {path_type}\n"
    if path is not None:
        entry += "        backend:\n" + textwrap.indent(backend, " " * 10) + "\n"
    else:
        entry = entry.replace("      - backend: {}\n", "      - backend:\n" + textwrap.indent(backend, " " * 10) + "\n")
    host_line = f'  - host: "{host}"\n    http:\n' if host is not None else "  - http:\n"
    spec = ""
    if class_name is not None:
        spec += f"  ingressClassName: {class_name}\n"
    spec += extra_spec
    spec += "  rules:\n" + host_line + "      paths:\n" + entry
    return f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n{meta}spec:\n{spec}"


def documents(*texts: str) -> bytes:
    return "---\n".join(texts).encode()
