"""The support summary of a repository: every ingress-nginx annotation key its Ingresses use, with
its status (core/annotations/registry.py), how often and where first (core/reports/annotation_table.py
renders it). Apart from ``check`` because reports import it and must not import validation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitops_ingress.core.annotations.model import Status
from gitops_ingress.core.annotations.registry import lookup
from gitops_ingress.core.models import LocatedIngress


@dataclass(frozen=True, slots=True)
class AnnotationUse:
    """One annotation key found in a repository: how we treat it, how often, where first."""

    key: str
    status: Status
    note: str
    count: int
    file: str
    line: int

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "status": self.status.value,
            "note": self.note,
            "count": self.count,
            "file": self.file,
            "line": self.line,
        }


def annotation_uses(items: Iterable[LocatedIngress]) -> tuple[AnnotationUse, ...]:
    """Every ``nginx.ingress.kubernetes.io/*`` key of ``items``, sorted by key."""
    seen: dict[str, AnnotationUse] = {}
    for item in items:
        for key in item.ingress.metadata.annotations:
            spec = lookup(key)
            if spec is None:
                continue
            use = seen.get(key)
            if use is None:
                position = item.position("metadata", "annotations", key)
                seen[key] = AnnotationUse(key, spec.status, spec.note, 1, position.file, position.line)
            else:
                seen[key] = AnnotationUse(key, use.status, use.note, use.count + 1, use.file, use.line)
    return tuple(seen[key] for key in sorted(seen))
