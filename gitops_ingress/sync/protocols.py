"""What the engine needs from the outside world, as structural Protocols.

The engine never imports an adapter: ``gitrepo.Mirror`` satisfies ``RepoSource`` and a target
(local proxy tables, Kubernetes) satisfies ``Target`` by shape alone, so ``sync`` can be tested
against real repositories and either target without knowing where they come from. The Protocols
name only the attributes the engine reads, which keeps them small and the adapters free to grow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.status import CommitInfo
from gitops_ingress.core.tree import TreeSource


class Fetched(Protocol):
    """What a fetch returns, as far as the engine reads it."""

    @property
    def heads(self) -> Mapping[str, str] | None:
        """Every branch's head when the fetch read them all (None: the engine reads them)."""


class RepoSource(Protocol):
    """A mirror of the config repository. Blocking, and safe to read from several threads at once:
    the engine's builds call ``commit_info`` and ``tree`` from its worker threads in parallel."""

    def ensure(self) -> None: ...

    def fetch(self, branch: str | None = None) -> Fetched:
        """Bring ``branch`` (None: every branch) up to date; the engine then takes the heads from
        the result, or reads ``branches()`` when it has none."""

    def branches(self) -> dict[str, str]: ...

    def missing(self) -> str | None:
        """Why the mirror is not there (deleted under the running service), or None. One stat:
        the readiness probe asks on every call."""

    def commit_info(self, sha: str) -> CommitInfo: ...

    def tree_id(self, sha: str) -> str:
        """The id of commit ``sha``'s root tree: two commits with one tree hold the same files."""

    def tree(self, sha: str) -> TreeSource:
        """Commit ``sha`` as the pipeline's tree source (file content ids: blob SHAs)."""

    def preload(self, commits: Iterable[str], root: str, *, max_file_bytes: int) -> object:
        """Read ahead, for all of ``commits`` at once, what their builds below ``root`` will read
        (a burst of new branches: a few passes instead of round trips per commit)."""


class Target(Protocol):
    """Where applied branches go. ``apply`` receives a branch's whole desired set, so a target
    can prune what the branch no longer holds; both calls must be idempotent because a sync that
    was interrupted is repeated after a restart."""

    name: str
    repairs_drift: bool  # holds state outside the engine that can drift: ``reconcile_all`` repairs it

    async def apply(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None: ...

    async def remove(self, branch: str, stable: bool) -> None: ...

    async def adopt(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        """State recorded as applied before a restart. A target that keeps its own state (a
        cluster) does nothing; an in-memory one takes it back without a new sync."""

    async def reconcile_all(self) -> dict[str, str]:
        """Repair drift: bring the live state of every branch the target remembers back to its
        last good desired state (called on start and on every poll interval). Returns the error
        of each branch that could not be repaired (e.g. a field-manager conflict); {} when all
        match. Raises (a ``GitopsIngressError``) when it checked nothing, e.g. a replica that is
        not the leader. A target with no state of its own to drift returns {}."""
