"""The file route source: ``--ingress-dir DIR ...`` plus the ``--backend`` map.

Each DIR is an environment folder (``environments/production``): every ``*.yaml``/``*.yml`` below
it is read, the environment is named after the folder, and all DIRs together are compiled into the
stable route table. Why it is built this way:

* Change detection polls the folders' (path, size, mtime) every ``interval`` seconds instead of
  using inotify: a stat walk of a few hundred files costs well under a millisecond, works on every
  file system (including the kubelet's symlink-swapped ConfigMap mounts and network mounts), and
  needs no extra dependency.
* A change is compiled only once the folders have stopped changing for ``debounce`` seconds, so an
  editor's save (write, rename, chmod) or a ``git checkout`` of fifty files becomes one reload.
* Reading, parsing and compiling run in a worker thread, off the event loop; only the finished
  snapshot is published, in one swap.
* Files with errors (YAML that does not parse, an object over a limit) are refused as a whole:
  the proxy keeps serving the last good table and logs every finding with file and line, so a
  half-saved file never takes routes away. The first load has no last good table: it raises.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.config import build_environment
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import LocatedIngress
from gitops_ingress.core.routing import RoutingState, compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.fs import read_tree
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources import Publish

log = logging.getLogger("gitops_ingress.proxy.sources.files")

YAML_SUFFIXES = (".yaml", ".yml")
Marks = tuple[tuple[str, int, int], ...]


class FileSourceError(SourceError):
    """The folders hold errors; ``findings`` says where."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        shown = "; ".join(f.one_line(hint=False) for f in self.findings[:5])
        more = f" (and {len(self.findings) - 5} more)" if len(self.findings) > 5 else ""
        super().__init__(f"ingress files have errors: {shown}{more}")


def scan(roots: Sequence[Path], max_files: int) -> Marks:
    """(path, size, mtime) of every YAML file below the roots, sorted; bounded by ``max_files``."""
    marks: list[tuple[str, int, int]] = []
    for root in roots:
        for folder, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if not name.endswith(YAML_SUFFIXES):
                    continue
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # removed while we walked: the next scan sees the final picture
                marks.append((path, st.st_size, st.st_mtime_ns))
                if len(marks) > max_files:
                    raise SourceError(f"{root}: more than {max_files} YAML files (policy.limits.max_files)")
    return tuple(sorted(marks))


def read_environment(root: Path, settings: Settings) -> tuple[list[LocatedIngress], list[Finding]]:
    """One environment folder, loaded and validated like ``validate`` does; paths as the user
    wrote them, so findings name real files."""
    limits = settings.policy.limits
    if not root.is_dir():
        raise SourceError(f"--ingress-dir {root}: not a folder")
    tree = read_tree(root, max_file_bytes=limits.max_file_bytes, max_files=limits.max_files)
    files = {f"{root.as_posix().rstrip('/')}/{rel}": data for rel, data in tree.files.items()}
    environment = build_environment(root.resolve().name, files, settings)
    return list(environment.ingresses), [*tree.findings, *environment.findings]


def load_ingresses(roots: Sequence[Path], settings: Settings) -> list[LocatedIngress]:
    """Every Ingress below the roots; FileSourceError with every error finding if any."""
    ingresses: list[LocatedIngress] = []
    errors: list[Finding] = []
    for root in roots:
        found, findings = read_environment(root, settings)
        ingresses.extend(found)
        errors.extend(f for f in findings if f.severity is Severity.ERROR)
    if errors:
        raise FileSourceError(errors)
    return ingresses


def build_snapshot(roots: Sequence[Path], backends: BackendMap, settings: Settings, version: int) -> Snapshot:
    """Read, load and compile the folders into a Snapshot (blocking: run it in a thread)."""
    table = compile_routes(load_ingresses(roots, settings), settings)
    state = RoutingState(table, {}, settings.preview_domain, version)
    return Snapshot.from_backend_map(state, backends, "files")


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
    ) -> None:
        self.roots = tuple(Path(r) for r in roots)
        self.backends = backends
        self.settings = settings
        self.interval = interval
        self.debounce = debounce
        self.version = 0
        self.last_error = ""
        self._on_refused = on_refused  # told when a change is refused (tests, future metrics)
        self._marks: Marks | None = None

    def _scan(self) -> Marks:
        return scan(self.roots, self.settings.policy.limits.max_files)

    def load(self) -> Snapshot:
        """The first snapshot, synchronously; FileSourceError names the files that hold errors."""
        self._marks = self._scan()
        self.version += 1
        return build_snapshot(self.roots, self.backends, self.settings, self.version)

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
        self._marks = await asyncio.to_thread(self._scan)
        try:
            snapshot = await asyncio.to_thread(
                build_snapshot, self.roots, self.backends, self.settings, self.version + 1
            )
        except SourceError as exc:
            self._refuse(exc)
            return
        self.version += 1
        self.last_error = ""
        publish(snapshot)
        log.info("files: route table version %d loaded (%d routes)", self.version, len(snapshot.state.stable))
