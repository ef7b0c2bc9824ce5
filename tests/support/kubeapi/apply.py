"""Server-side apply and managedFields bookkeeping for every write.

Semantics (from the server-side apply docs and structured-merge-diff, restated, not copied):
- Each manager owns a set of leaf field paths, recorded per (manager, operation, subresource).
- Apply: every field in the applied configuration becomes owned by the applier. A field another
  manager owns with a *different* value is a conflict: 409 unless ``force``, which transfers the
  ownership. Owning a field with the *same* value makes the managers co-owners (no conflict).
  Fields the applier owned before but left out of this configuration are removed from the object
  unless another manager still owns them.
- Update (create, PUT, merge/JSON patch): never conflicts; the updater takes ownership of every
  field whose value it changed, other managers lose those fields; removed fields are dropped from
  every set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import fieldset
from .fieldset import Path

ManagerKey = tuple[str, str, str]  # (manager, operation, subresource)


@dataclass
class Ownership:
    sets: dict[ManagerKey, set[Path]]
    times: dict[ManagerKey, str]

    @classmethod
    def read(cls, obj: dict[str, Any] | None) -> Ownership:
        sets: dict[ManagerKey, set[Path]] = {}
        times: dict[ManagerKey, str] = {}
        for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
            key = (entry.get("manager", ""), entry.get("operation", "Update"), entry.get("subresource", ""))
            sets[key] = fieldset.decode(entry.get("fieldsV1") or {})
            times[key] = entry.get("time", "")
        return cls(sets, times)

    def write(self, obj: dict[str, Any], api_version: str) -> None:
        entries = []
        for key, paths in self.sets.items():
            if not paths:
                continue
            manager, operation, subresource = key
            entry: dict[str, Any] = {
                "manager": manager,
                "operation": operation,
                "apiVersion": api_version,
                "time": self.times.get(key, ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": fieldset.encode(paths),
            }
            if subresource:
                entry["subresource"] = subresource
            entries.append(entry)
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)


@dataclass(frozen=True)
class Scope:
    """Which part of the object a write may touch: the main resource or its /status."""

    subresource: str  # "" or "status"
    has_status_subresource: bool

    def leaves(self, obj: dict[str, Any]) -> dict[Path, Any]:
        return fieldset.leaves(
            obj, status_only=self.subresource == "status", with_status=not self.has_status_subresource
        )


def server_side_apply(
    live: dict[str, Any], applied: dict[str, Any], manager: str, force: bool, scope: Scope, now: str
) -> tuple[dict[str, Any], Ownership, list[tuple[str, str]]]:
    """Merge ``applied`` into ``live`` for ``manager``: the new object, the new ownership (for
    :meth:`Ownership.write`) and the conflicts found (reported even when forced)."""
    own = Ownership.read(live)
    me: ManagerKey = (manager, "Apply", scope.subresource)
    applied_leaves = scope.leaves(applied)
    conflicts: list[tuple[str, str]] = []
    for key, paths in own.sets.items():
        if key == me:
            continue
        for path in sorted(paths):
            clash = [q for q in applied_leaves if fieldset.overlaps(q, path)]
            longer = [max(q, path, key=len) for q in clash]
            if any(fieldset.value_at(live, p) != fieldset.value_at(applied, p) for p in longer):
                conflicts.append((key[0], fieldset.dotted(path)))
                if force:
                    paths.discard(path)
    if conflicts and not force:
        return live, own, conflicts
    result = copy.deepcopy(live)
    others = [p for key, paths in own.sets.items() if key != me for p in paths]
    for path in own.sets.get(me, set()) - set(applied_leaves):
        if not any(fieldset.overlaps(path, other) for other in others):
            fieldset.remove_at(result, path)
    fieldset.deep_merge(result, _scoped(applied, scope))
    own.sets[me] = set(applied_leaves)
    own.times[me] = now
    return result, own, conflicts


def _scoped(applied: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The part of an applied configuration this endpoint may write."""
    if scope.subresource == "status":
        return {"status": copy.deepcopy(applied.get("status") or {})}
    body = {
        k: copy.deepcopy(v)
        for k, v in applied.items()
        if k not in ("apiVersion", "kind", "metadata") and not (k == "status" and scope.has_status_subresource)
    }
    meta = applied.get("metadata") or {}
    body["metadata"] = {
        k: copy.deepcopy(meta[k]) for k in ("labels", "annotations", "finalizers", "ownerReferences") if k in meta
    }
    return body


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, scope: Scope, now: str) -> Ownership:
    """The ownership after an Update-operation write of ``new`` over ``old``."""
    own = Ownership.read(new)
    before = scope.leaves(old) if old else {}
    after = scope.leaves(new)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    gone = set(before) - set(after)
    for paths in own.sets.values():
        paths.difference_update(changed)
        for path in [p for p in paths if any(fieldset.overlaps(p, g) for g in gone) and p not in after]:
            paths.discard(path)
    if changed:
        me: ManagerKey = (manager, "Update", scope.subresource)
        own.sets.setdefault(me, set()).update(changed)
        own.times[me] = now
    return own
