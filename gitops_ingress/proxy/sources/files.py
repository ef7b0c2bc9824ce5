"""The file route source: ``--ingress-dir DIR ...`` plus the ``--backend`` map.

Each DIR is read by the one pipeline (``core.build.build`` over ``fs.FolderTree``), so the proxy
names environments and runs the cross-file checks exactly as ``validate DIR`` does, and all DIRs
together are served as one routing set (``RouteTable.merge``, as ``routes`` and the local target
merge environments). Why it is built this way:

* Change detection polls the folders every ``interval`` seconds instead of using inotify: a
  listing of a few hundred files costs well under a millisecond, works on every file system
  (including network mounts), and needs no extra dependency. What is watched is exactly what is
  read: the poll *is* the folder tree's listing (the one file filter: hidden folders skipped,
  symlinks refused with a finding; so kubelet ConfigMap mounts, which are symlinks, are refused),
  and a reload builds from the very listing that triggered it.
* A change is compiled only once the folders have stopped changing for ``debounce`` seconds, so an
  editor's save (write, rename, chmod) or a ``git checkout`` of fifty files becomes one reload.
* Reading, parsing and compiling run in a worker thread, off the event loop; only the finished
  snapshot is published, in one swap.
* Files with errors (YAML that does not parse, an object over a limit, a symlink) are refused as a
  whole: the proxy keeps serving the last good table and logs every finding with file and line, so
  a half-saved file never takes routes away. The first load has no last good table: it raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gitops_ingress import kustomize
from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.build import build
from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.routing import RouteTable, RoutingState
from gitops_ingress.core.settings import LimitSettings, Settings
from gitops_ingress.core.tree import TreeFile, TreeListing
from gitops_ingress.fs import FolderTree, find_repository, folder_root
from gitops_ingress.proxy import secrets
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources import FileSourceError, Publish

__all__ = ["FileSource", "FileSourceError"]

log = logging.getLogger("gitops_ingress.proxy.sources.files")
Marks = Mapping[str, TreeListing]  # one poll: each root's listing


class _Listed:
    """The folders as one poll listed them: a reload reads exactly the files the watcher saw."""

    def __init__(self, marks: Marks) -> None:
        self._marks = marks
        self._folders = FolderTree()

    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        # a folder a kustomization names outside the watched ones is listed when it is rendered
        listed = self._marks.get(root)
        return listed if listed is not None else self._folders.list(root, limits)

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        return self._folders.read(files)


def scan(roots: Sequence[Root], settings: Settings) -> Marks:
    """The listing of every root (blocking): compared between polls, then built from."""
    folders = FolderTree()
    marks: dict[str, TreeListing] = {}
    for root in roots:
        if not Path(root.path).is_dir():
            raise SourceError(f"--ingress-dir {root.path}: not a folder")
        marks[root.path] = folders.list(root.path, settings.policy.limits)
    return marks


def build_snapshot(
    marks: Marks,
    roots: Sequence[Root],
    backends: BackendMap,
    settings: Settings,
    version: int,
    secret_dir: Path | None = None,
) -> Snapshot:
    """Load, validate and compile the listed folders into a Snapshot (blocking: run it in a thread).
    An empty folder is an empty route table, not an error: the proxy then serves 404s. The Secrets
    of basic-auth routes come from ``secret_dir`` (proxy/secrets.py): a refused hash is an error
    like a broken file, a missing Secret a warning (its routes answer 503)."""
    built = build(_Listed(marks), settings, roots, render=kustomize.render)
    errors = [f for f in built.all_findings() if f.severity is Severity.ERROR and f.rule != "config/no-yaml"]
    if errors:
        raise FileSourceError(errors)
    state = RoutingState(RouteTable.merge(built.tables()), {}, settings.preview_domain, version)
    credentials, findings = secrets.from_folder(secret_dir, state)
    refused = [f for f in findings if f.severity is Severity.ERROR]
    if refused:
        raise FileSourceError(refused)
    for finding in findings:
        log.warning("files: %s", finding.one_line(hint=False))
    return Snapshot.from_backend_map(state, backends, "files", credentials)


class FileSource:
    name = "files"

    def __init__(
        self,
        roots: Sequence[Path | str],
        backends: BackendMap,
        settings: Settings,
        *,
        interval: float = 1.0,
        debounce: float = 0.2,
        on_refused: Callable[[SourceError], None] | None = None,
        secret_dir: Path | None = None,
    ) -> None:
        self.roots = tuple(Path(r) for r in roots)
        repository = find_repository(self.roots[0] if self.roots else None)
        self._roots = tuple(folder_root(str(root), repository) for root in self.roots)
        self.backends = backends
        self.settings = settings
        self.interval = interval
        self.debounce = debounce
        self.version = 0
        self.last_error = ""
        self._on_refused = on_refused  # told when a change is refused (tests, future metrics)
        self.secret_dir = secret_dir
        self._marks: Marks | None = None

    def _scan(self) -> Marks:
        return scan(self._roots, self.settings)

    def _build(self, marks: Marks, version: int) -> Snapshot:
        return build_snapshot(marks, self._roots, self.backends, self.settings, version, self.secret_dir)

    def load(self) -> Snapshot:
        """The first snapshot, synchronously; FileSourceError names the files that hold errors."""
        self._marks = self._scan()
        self.version += 1
        return self._build(self._marks, self.version)

    async def run(self, publish: Publish) -> None:
        """Publish a first snapshot unless ``load`` was already called, then one per change."""
        if self._marks is None:
            publish(await asyncio.to_thread(self.load))
        while True:
            await asyncio.sleep(self.interval)
            try:
                marks = await asyncio.to_thread(self._scan)
                if marks == self._marks:
                    continue
                await self._settle(marks)
                await self._reload(publish)
            except SourceError as exc:  # e.g. over the file limit: keep serving, say why
                self._refuse(exc)

    def _refuse(self, exc: SourceError) -> None:
        if str(exc) != self.last_error:  # once per distinct problem, not once per poll
            log.error("files: keeping the last good route table: %s", exc)
        self.last_error = str(exc)
        if self._on_refused is not None:
            self._on_refused(exc)

    async def _settle(self, marks: Marks) -> None:
        """Wait until two scans ``debounce`` apart agree (bounded: 50 rounds)."""
        for _ in range(50):
            await asyncio.sleep(self.debounce)
            again = await asyncio.to_thread(self._scan)
            if again == marks:
                return
            marks = again

    async def _reload(self, publish: Publish) -> None:
        self._marks = marks = await asyncio.to_thread(self._scan)
        try:
            snapshot = await asyncio.to_thread(self._build, marks, self.version + 1)
        except SourceError as exc:
            self._refuse(exc)
            return
        self.version += 1
        self.last_error = ""
        publish(snapshot)
        log.info("files: route table version %d loaded (%d routes)", self.version, len(snapshot.state.stable))
