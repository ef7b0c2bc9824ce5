"""The support summary of a repository: every ingress-nginx annotation key its Ingresses use, with
its status (core/annotations/registry.py), how often and where first (core/reports/annotation_table.py
renders it). Apart from ``check`` because reports import it and must not import validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitops_ingress.core.annotations.model import AnnotationSpec, Status
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
    # counted first, each use made once at the end: a key is met once per Ingress, and making a
    # frozen use per meeting was most of the time of the table
    counts: dict[str, int] = {}
    first: dict[str, tuple[LocatedIngress, AnnotationSpec]] = {}
    outside: set[str] = set()  # keys not under the prefix: looked up once
    for item in items:
        for key in item.ingress.metadata.annotations:
            count = counts.get(key)
            if count is not None:
                counts[key] = count + 1
                continue
            if key in outside:
                continue
            spec = lookup(key)
            if spec is None:
                outside.add(key)
                continue
            counts[key] = 1
            first[key] = (item, spec)
    uses = []
    for key in sorted(counts):
        item, spec = first[key]
        position = item.position("metadata", "annotations", key)
        uses.append(AnnotationUse(key, spec.status, spec.note, counts[key], position.file, position.line))
    return tuple(uses)


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
