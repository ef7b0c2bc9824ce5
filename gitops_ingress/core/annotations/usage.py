"""The support summary of a repository: every ingress-nginx annotation key its Ingresses use, with
its status (core/annotations/registry.py), how often and where first (core/reports/annotation_table.py
renders it). Apart from ``check`` because reports import it and must not import validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AnnotationUse:
        """``to_dict`` read back (the state database keeps the uses of each environment)."""
        return cls(
            str(data["key"]),
            Status(data["status"]),
            str(data.get("note", "")),
            int(str(data.get("count", 1))),
            str(data.get("file", "")),
            int(str(data.get("line", 0))),
        )


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


def merged_uses(groups: Iterable[Iterable[AnnotationUse]]) -> tuple[AnnotationUse, ...]:
    """The uses of several environments as one table, as ``annotation_uses`` of all their
    Ingresses in that order would count them: per key the counts add up and the first place is
    the first group's."""
    seen: dict[str, AnnotationUse] = {}
    for group in groups:
        for use in group:
            first = seen.get(use.key)
            seen[use.key] = (
                use
                if first is None
                else AnnotationUse(use.key, first.status, first.note, first.count + use.count, first.file, first.line)
            )
    return tuple(seen[key] for key in sorted(seen))
