"""The pipeline: a tree of files -> per-environment Ingresses, findings and route tables.

``build(tree, settings, roots)`` is the only path from files to routes. ``validate``, ``routes``,
``diff`` and the proxy's file mode call it over a folder, ``--ref`` and the sync engine over a git
commit, tests and the demo over files in memory; they differ only in the tree source and the roots.
The steps, all pure apart from the tree source's reads:

1. list every root (``core.tree``: the one file filter; a listing's own findings);
2. name each file's environment (``core.environments``: the one naming rule);
3. parse each file, or take it from ``cache`` by content id (git blob SHAs: a push re-reads and
   re-parses only the files it changed);
4. validate each environment as a whole (cross-file and policy checks) and compile its RouteTable;
5. when every environment was built, check them together: a host belongs to one environment, since
   one proxy serves them all (``policy.shared_hosts`` allows exceptions).

Findings of the listing are attributed to the environment whose folder holds the path, so a
symlink or an oversized file refuses that environment only; the rest are repository-level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from gitops_ingress.core.environments import Root, environment_for
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.findings import Finding, Severity, has_errors, sorted_findings
from gitops_ingress.core.models import IngressClass, LocatedIngress
from gitops_ingress.core.objects import ParsedFile, parse_file
from gitops_ingress.core.routing import RouteTable, compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import CommitInfo
from gitops_ingress.core.tree import TreeFile, TreeSource, is_below, join_path, relative_path
from gitops_ingress.core.validation import validate_across_environments, validate_environment

Parse = Callable[[str, bytes, str, Settings, LineShapes], ParsedFile]


class ParseStore(Protocol):
    """Parsed files by (content id, path); ``sync.parsecache.ParseCache`` is one."""

    def get(self, content_id: str, path: str, /) -> ParsedFile | None: ...

    def put(self, content_id: str, path: str, parsed: ParsedFile, /) -> None: ...


@dataclass(frozen=True, slots=True)
class EnvironmentBuild:
    name: str
    compiled: RouteTable | None  # None: built with ``routes=False``; read ``table``
    ingresses: tuple[LocatedIngress, ...]
    findings: tuple[Finding, ...]  # everything for this environment, sorted
    files: tuple[str, ...] = ()
    classes: tuple[IngressClass, ...] = ()

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    @property
    def table(self) -> RouteTable:
        if self.compiled is None:
            raise ValueError(f"environment {self.name!r} was built without routes (build(..., routes=False))")
        return self.compiled


@dataclass(frozen=True, slots=True)
class TreeBuild:
    """One tree built: a set of folders (a snapshot) or a commit, the same type for both."""

    settings: Settings
    environments: Mapping[str, EnvironmentBuild]  # sorted by name
    findings: tuple[Finding, ...]  # repository-level: layout, no YAML, unknown environment
    files_parsed: int = 0  # files read and parsed (the others came from the cache)
    files_total: int = 0
    commit: str = ""  # the commit built, for a git tree
    info: CommitInfo | None = None

    @property
    def ok(self) -> bool:
        """False when the snapshot as a whole is unusable; environments are judged one by one."""
        return not has_errors(self.findings)

    def all_findings(self) -> list[Finding]:
        found = list(self.findings)
        for environment in self.environments.values():
            found.extend(environment.findings)
        return sorted_findings(found)

    def tables(self) -> dict[str, RouteTable]:
        return {name: env.table for name, env in self.environments.items()}

    def files(self) -> tuple[str, ...]:
        return tuple(sorted(path for env in self.environments.values() for path in env.files))

    def object_count(self) -> int:
        return sum(len(env.ingresses) + len(env.classes) for env in self.environments.values())


def shown_roots(roots: Sequence[Root], shown: int = 3) -> str:
    """The roots as one short text: ``a, b, c and 37 more``, never forty paths in a row."""
    paths = [root.path or "." for root in roots]
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _repo_finding(rule: str, message: str, file: str, hint: str = "", severity: Severity = Severity.ERROR) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, file=file, hint=hint)


def build(
    tree: TreeSource,
    settings: Settings,
    roots: Sequence[Root] = (),
    *,
    environment: str | None = None,
    cache: ParseStore | None = None,
    parse: Parse = parse_file,
    settings_findings: Sequence[Finding] = (),
    routes: bool = True,
    commit: str = "",
    info: CommitInfo | None = None,
) -> TreeBuild:
    """Every environment below ``roots`` (default: ``environments_dir``), or only ``environment``.
    ``settings_findings``: what reading the settings file found, kept with the repository-level
    ones. ``routes=False`` skips compiling the route tables, for a caller that needs the findings
    only (``validate``: compiling is a sixth of its time on 10,000 Ingresses)."""
    listed = _list(tree, settings, roots or [Root.at(settings.environments_dir)])
    findings = [*settings_findings, *listed.findings]
    where = shown_roots(roots) or settings.environments_dir
    names = sorted(listed.files.keys() | listed.refused.keys())
    if not names:
        message = f"no Ingress YAML files (*.yaml, *.yml) found in {where}"
        hint = f"put Ingress files under {settings.environments_dir}/<environment>/"
        findings.append(_repo_finding("config/no-yaml", message, where, hint))
    elif environment is not None and environment not in names:
        message = f'environment "{environment}" has no files in {where}; known: {", ".join(names)}'
        findings.append(_repo_finding("config/unknown-environment", message, where))
    chosen = [name for name in names if environment is None or name == environment]
    parsed, count = _parse_all(tree, {name: listed.files.get(name, {}) for name in chosen}, cache, parse, settings)
    environments = {
        name: _environment(name, listed.files.get(name, {}), listed.refused.get(name, []), parsed, settings, routes)
        for name in chosen
    }
    if environment is None and len(environments) > 1:
        environments = _checked_together(environments, settings)
    total = sum(len(files) for files in listed.files.values()) + listed.ignored
    return TreeBuild(settings, environments, tuple(sorted_findings(findings)), count, total, commit=commit, info=info)


@dataclass(slots=True)
class _Listed:
    files: dict[str, dict[str, TreeFile]]  # environment -> path -> file
    refused: dict[str, list[Finding]]  # environment -> what its listing found
    findings: list[Finding]  # repository-level
    ignored: int = 0


def _list(tree: TreeSource, settings: Settings, roots: Sequence[Root]) -> _Listed:
    """Steps 1 and 2: list every root and name each file's environment."""
    listed = _Listed({}, {}, [])
    for root in roots:
        listing = tree.list(root.path, settings.policy.limits)
        for file in listing.files:
            name = environment_for(root, join_path(root.located, relative_path(root.path, file.path)), settings)
            if name is None:
                listed.ignored += 1
                message = (
                    f"{file.path} is not inside an environment folder ({settings.environments_dir}/<env>/); ignored"
                )
                hint = "move it into a folder named after its environment"
                listed.findings.append(_repo_finding("config/layout", message, file.path, hint, Severity.WARNING))
            else:
                listed.files.setdefault(name, {})[file.path] = file
        for finding in listing.findings:
            located = join_path(root.located, relative_path(root.path, finding.file))
            owner = environment_for(root, located, settings) if is_below(root.path, finding.file) else None
            (listed.refused.setdefault(owner, []) if owner is not None else listed.findings).append(finding)
    return listed


def _parse_all(
    tree: TreeSource,
    files: Mapping[str, Mapping[str, TreeFile]],
    cache: ParseStore | None,
    parse: Parse,
    settings: Settings,
) -> tuple[dict[str, ParsedFile | Finding], int]:
    """Step 3: path -> parsed file (or why it could not be read), and how many were parsed. The
    cache is asked first; the misses are read in one call, so a git source streams them in one
    batch instead of one round trip per file between parses."""
    parsed: dict[str, ParsedFile | Finding] = {}
    misses: dict[str, tuple[TreeFile, str]] = {}
    for name, below in files.items():
        for path, file in below.items():
            hit = cache.get(file.content_id, path) if cache is not None and file.content_id else None
            if hit is not None:
                parsed[path] = hit
            else:
                misses[path] = (file, name)
    contents = tree.read([file for file, _ in misses.values()]) if misses else {}
    shapes = LineShapes()  # one memo for the whole tree: manifests share most of their line shapes
    count = 0
    for path, (file, name) in misses.items():
        data = contents[path]
        if isinstance(data, Finding):
            parsed[path] = data
            continue
        parsed[path] = result = parse(path, data, name, settings, shapes)
        count += 1
        if cache is not None and file.content_id:
            cache.put(file.content_id, path, result)
    return parsed, count


def _environment(
    name: str,
    files: Mapping[str, TreeFile],
    refused: list[Finding],
    parsed: Mapping[str, ParsedFile | Finding],
    settings: Settings,
    routes: bool,
) -> EnvironmentBuild:
    """Step 4: one environment's objects, validated as a whole and compiled."""
    ingresses: list[LocatedIngress] = []
    classes: list[IngressClass] = []
    findings = list(refused)
    for path in sorted(files):
        result = parsed[path]
        if isinstance(result, Finding):
            findings.append(result)
            continue
        ingresses.extend(result.ingresses)
        classes.extend(result.classes)
        findings.extend(result.findings)
    findings.extend(validate_environment(ingresses, name, settings, len(files)))
    table = compile_routes(ingresses, settings) if routes else None
    return EnvironmentBuild(
        name, table, tuple(ingresses), tuple(sorted_findings(findings)), tuple(sorted(files)), tuple(classes)
    )


def _checked_together(environments: dict[str, EnvironmentBuild], settings: Settings) -> dict[str, EnvironmentBuild]:
    """Step 5, when every environment was built: what only all of them together show (a host
    claimed by two environments), added to each environment it concerns."""
    extra = validate_across_environments({name: env.ingresses for name, env in environments.items()}, settings)
    return {
        name: replace(env, findings=tuple(sorted_findings([*env.findings, *extra[name]]))) if name in extra else env
        for name, env in environments.items()
    }
