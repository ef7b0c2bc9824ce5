"""A branch as the engine tracks it in memory, and its public ``BranchStatus``.

The record mirrors the store's rows (it is rebuilt from them at start) plus what only lives while
the process runs: the newest head seen on the remote, which may be ahead of the last synced commit.
``to_status`` is the one place that turns a record into the API's frozen model, so the dashboard,
the JSON API and the events all describe a branch the same way.

A status is costly to build (a preview host per stable host, each hashed and folded, and the
models around them: about 0.6 ms for 20 hosts), and a page of ``/api/branches`` asks for 50 of
them on every request while almost none has changed. So a record keeps the last status it made
and the fields it made it from (``status``): while they are equal the same frozen status is
returned, so a page builds nothing. The fields are compared by value, so a record changed in any
way (by the engine, the start-up, a failure) is never shown stale; the environment rows compare
first by identity (tuple comparison), so an unchanged record costs one tuple comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gitops_ingress.core.findings import first_error, has_errors
from gitops_ingress.core.naming import branch_slug, preview_hosts
from gitops_ingress.core.routing import RouteTable
from gitops_ingress.core.status import (
    BranchStatus,
    CommitInfo,
    EnvironmentStatus,
    PreviewURL,
    SyncState,
)
from gitops_ingress.sync.store import BranchRow, EnvironmentRow


def now_iso() -> str:
    """A record's timestamps: UTC, ISO 8601, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


UrlFor = Callable[[str], str]
# a branch in these states needs nothing for the commit it was reconciled at: an expired or capped
# preview comes back on a new head (or, capped, when room frees), not on every fetch
RECONCILED = frozenset({SyncState.APPLIED, SyncState.REFUSED, SyncState.EXPIRED, SyncState.CAPPED})


def http_url_for(port: int | None) -> UrlFor:
    """Preview host -> URL through the proxy listening on ``port`` (80 or None: no port)."""
    suffix = "" if port in (None, 80) else f":{port}"
    return lambda host: f"http://{host}{suffix}/"


@dataclass
class BranchRecord:
    name: str
    stable: bool
    head: str | None = None  # newest head seen on the remote
    synced: str | None = None  # last commit reconciled (applied or refused)
    head_info: CommitInfo | None = None  # of ``synced``
    state: SyncState = SyncState.PENDING
    message: str = ""
    updated_at: str = ""
    deleted_at: str | None = None
    environments: dict[str, EnvironmentRow] = field(default_factory=dict)
    # when the head arrived (epoch seconds; the preview lifecycle counts idle time from it); only
    # in memory, taken back from the sync history at start (lifecycle.py)
    pushed_at: float | None = None
    # the last status made and what it was made from (``status``); not part of the record's value
    _shown: tuple[tuple[object, ...], BranchStatus] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: BranchRow, stable: bool) -> BranchRecord:
        return cls(
            row.name,
            stable,
            row.head,
            row.head,
            row.head_info,
            row.state,
            row.message,
            row.updated_at,
            row.deleted_at,
            dict(row.environments),
        )

    @property
    def applied_tables(self) -> dict[str, RouteTable]:
        tables: dict[str, RouteTable] = {}
        for name, env in self.environments.items():
            if env.table is not None:
                tables[name] = env.table
        return tables

    @property
    def serves(self) -> bool:
        """Whether any environment has a live table (``applied_tables`` without building it: the
        preview cap asks this of every branch)."""
        return any(env.table is not None for env in self.environments.values())

    @property
    def applied_commit(self) -> str | None:
        """The commit live in every environment; None when none is, or when they differ (a
        commit is applied as one unit, so they differ only after a partial failure of a target,
        and each environment's own ``applied_commit`` says which is live where)."""
        commits = {env.applied_commit for env in self.environments.values()}
        return commits.pop() if len(commits) == 1 else None

    def status(self, preview_domain: str, url_for: UrlFor) -> BranchStatus:
        """``to_status`` of this record, made again only when a field it reads has changed
        (``preview_domain`` and ``url_for`` are fixed for an engine's life)."""
        made_from = (
            self.stable,
            self.head,
            self.synced,
            self.head_info,
            self.state,
            self.message,
            self.updated_at,
            self.deleted_at,
            tuple(self.environments.items()),
        )
        if self._shown is not None and self._shown[0] == made_from:
            return self._shown[1]
        status = to_status(self, preview_domain, url_for)
        self._shown = (made_from, status)
        return status

    def is_current(self, head: str) -> bool:
        """Nothing to do for ``head``: it was reconciled and the branch is not in error."""
        return self.synced == head and self.state in RECONCILED and not self.deleted_at


# the branch states in which a head newer than the synced commit is on its way (or failing)
WAITING = frozenset({SyncState.PENDING, SyncState.APPLIED, SyncState.REFUSED, SyncState.ERROR, SyncState.STANDBY})


def environment_statuses(record: BranchRecord) -> tuple[EnvironmentStatus, ...]:
    """Each environment as the store and the last plan left it, said of the branch's head.

    A head newer than the synced commit is no environment's yet: each shows it pending (or the
    branch's error or standby, with its message), with what is live meanwhile and no findings,
    since it was not built. Otherwise the rows describe the synced commit; a refused one names the
    environments whose errors refused it (a commit is one unit, so a valid environment of it is
    held back by the others', never applied)."""
    rows = sorted(record.environments.values(), key=lambda e: e.environment)
    ahead = record.head is not None and record.head != record.synced and record.state in WAITING
    refusing = tuple(row.environment for row in rows if row.state is SyncState.REFUSED and has_errors(row.findings))
    shown: list[EnvironmentStatus] = []
    for row in rows:
        state, commit, findings, reason, uses = row.state, record.synced, row.findings, "", row.annotations
        refused_by: tuple[str, ...] = ()
        if ahead:
            waits = record.state in (SyncState.ERROR, SyncState.STANDBY)
            state, commit, findings, uses = (record.state if waits else SyncState.PENDING), record.head, (), ()
            reason = record.message if waits else "not synced yet"
        elif row.state is SyncState.REFUSED:
            refused_by = refusing
            if has_errors(row.findings):
                reason = f"refused here: {first_error(row.findings)}"
            else:
                others = ", ".join(refusing) or "another environment"
                reason = f"held back: the commit is refused in {others}, and a commit is applied everywhere or nowhere"
        elif row.applied_commit != commit:
            reason = record.message
        shown.append(
            EnvironmentStatus(
                environment=row.environment,
                state=state,
                commit=commit,
                applied_commit=row.applied_commit,
                route_count=len(row.table) if row.table is not None else 0,
                findings=findings,
                reason=reason,
                refused_by=refused_by,
                annotations=uses,
            )
        )
    return tuple(shown)


def to_status(record: BranchRecord, preview_domain: str, url_for: UrlFor) -> BranchStatus:
    environments = environment_statuses(record)
    previews: list[PreviewURL] = []
    if not record.stable:
        seen: set[str] = set()
        for env in environments:
            table = record.environments[env.environment].table
            hosts = table.hosts if table is not None else []
            for name, host in zip(preview_hosts(record.name, hosts, preview_domain), hosts, strict=True):
                if name not in seen:
                    seen.add(name)
                    previews.append(
                        PreviewURL(environment=env.environment, host=name, url=url_for(name), stable_host=host)
                    )
    head = record.head_info
    if record.head is not None and (head is None or head.sha != record.head):
        head = CommitInfo(sha=record.head)
    return BranchStatus(
        name=record.name,
        slug=branch_slug(record.name),
        stable=record.stable,
        state=record.state,
        head=head,
        applied_commit=record.applied_commit,
        message=record.message,
        environments=environments,
        preview_urls=tuple(previews),
        updated_at=record.updated_at,
        deleted_at=record.deleted_at,
    )
