"""Deciding what a built commit means for a branch: per environment, apply, keep or remove.

Pure and synchronous, so the rules that matter most are in one small place and tested directly:

* an environment whose files are valid is applied at the new commit;
* an environment with an error keeps serving its last good table (if it ever had one) and shows
  the new commit's findings -- a bad commit never takes routes down;
* an environment that the new commit no longer has is removed;
* a commit that is unusable as a whole (repository-level errors) is refused everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.build import TreeBuild
from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.findings import Finding, Severity, first_error
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.store import EnvironmentRow


@dataclass(frozen=True, slots=True)
class Plan:
    desired: dict[str, DesiredEnvironment]
    rows: list[EnvironmentRow]
    results: dict[str, str]  # environment -> applied | unchanged | refused | removed
    state: SyncState
    message: str


def _keep(
    name: str, old: EnvironmentRow | None, findings: tuple[Finding, ...], uses: tuple[AnnotationUse, ...] = ()
) -> tuple[EnvironmentRow, DesiredEnvironment | None]:
    table = old.table if old is not None else None
    commit = old.applied_commit if old is not None else None
    row = EnvironmentRow(name, SyncState.REFUSED, commit, table, findings, uses)
    desired = DesiredEnvironment(name, commit, table, keep=True) if table is not None and commit else None
    return row, desired


def plan_commit(build: TreeBuild, current: Mapping[str, EnvironmentRow]) -> Plan:
    """A commit is one unit: when any environment of it has errors, no environment of it is
    applied (nor removed); each keeps its last good commit, the refused ones with their findings,
    the others held back with none of their own."""
    desired: dict[str, DesiredEnvironment] = {}
    rows: list[EnvironmentRow] = []
    results: dict[str, str] = {}
    refused: list[tuple[str, tuple[Finding, ...]]] = []
    whole = build.ok and all(env.ok for env in build.environments.values())
    for name in sorted(build.environments.keys() | current.keys()):
        old = current.get(name)
        env = build.environments.get(name)
        # the new commit's annotations here, shown whatever becomes of it (the PR comment's table)
        uses = build.annotation_uses(name) if env is not None else ()
        if not build.ok:
            row, keep = _keep(name, old, build.findings, uses)
        elif not whole and (env is None or env.ok):
            # valid (or gone) in a commit refused elsewhere: held back at its last good commit
            row, keep = _keep(name, old, env.findings if env is not None else (), uses)
            results[name] = "held back"
            rows.append(row)
            if keep is not None:
                desired[name] = keep
            continue
        elif env is None:
            results[name] = "removed"
            continue
        elif env.ok:
            unchanged = old is not None and old.table is not None and old.table.version == env.table.version
            results[name] = "unchanged" if unchanged else "applied"
            rows.append(EnvironmentRow(name, SyncState.APPLIED, build.commit, env.table, env.findings, uses))
            desired[name] = DesiredEnvironment(name, build.commit, env.table, env.ingresses)
            continue
        else:
            row, keep = _keep(name, old, env.findings, uses)
        results[name] = "refused"
        refused.append((name, row.findings))
        rows.append(row)
        if keep is not None:
            desired[name] = keep
    if not build.ok and not refused:
        refused.append(("", build.findings))
        results[""] = "refused"
    state = SyncState.REFUSED if refused else SyncState.APPLIED
    return Plan(desired, rows, results, state, refusal_message(refused, kept=bool(desired)))


def refusal_message(refused: list[tuple[str, tuple[Finding, ...]]], *, kept: bool = True) -> str:
    """One line for the status: where the first error is and how many there are, and what serves
    meanwhile (``kept``: some environment has a last good commit; else nothing does)."""
    scoped = [(env, f) for env, found in refused for f in found if f.severity is Severity.ERROR]
    if not scoped:
        return ""
    scope = f"{scoped[0][0]}: " if scoped[0][0] else ""
    outcome = "last good routes keep serving" if kept else "nothing was live before, so nothing serves"
    return f"refused, {outcome}: {scope}{first_error(f for _, f in scoped)}"
