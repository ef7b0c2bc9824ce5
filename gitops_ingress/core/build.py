"""The pipeline: a tree of files -> per-environment Ingresses, findings and route tables.

``build(tree, settings, roots)`` is the only path from files to routes. ``validate``, ``routes``,
``diff`` and the proxy's file mode call it over a folder, ``--ref`` and the sync engine over a git
commit, tests and the demo over files in memory; they differ only in the tree source and the roots.
The steps, all pure apart from the tree source's reads:

1. list every root (``core.tree``: the one file filter; a listing's own findings);
2. name each file's environment (``core.environments``: the one naming rule); an environment whose
   folder holds a kustomization is rendered instead (``core.kustomize``, with the ``render`` the
   caller passes in: running kustomize is I/O), its objects placed at their origin files' lines;
   a folder that holds a Helm chart (``Chart.yaml``) is one finding, not a file of broken YAML;
3. parse each file, or take it from ``cache`` by content id (git blob SHAs: a push re-reads and
   re-parses only the files it changed);
4. validate each environment as a whole (cross-file and policy checks) and compile its RouteTable;
5. when every environment was built, check them together: a host belongs to one environment, since
   one proxy serves them all (``policy.shared_hosts`` allows exceptions).

Findings of the listing are attributed to the environment whose folder holds the path, so a
symlink or an oversized file refuses that environment only; the rest are repository-level.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from gitops_ingress.core.annotations.usage import AnnotationUse, annotation_uses
from gitops_ingress.core.environments import Root, environment_for, in_environment_folder
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.findings import Finding, Severity, has_errors, sorted_findings
from gitops_ingress.core.models import IngressClass, LocatedIngress
from gitops_ingress.core.objects import ParsedFile, ParseStore, parse_file
from gitops_ingress.core.routing import Route, compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.tree import KUSTOMIZATION_NAMES, TreeFile, TreeSource, is_below, join_path, relative_path
from gitops_ingress.core.validation import served_by_us_or_nginx, validate_across_environments, validate_environment

if TYPE_CHECKING:
    # the kustomize modules are imported only for a tree that holds a kustomization (_render_all)
    from gitops_ingress.core.kustomize import Renderer, Rendering

    # a table's module is loaded where one is built (compile_routes), not by ``validate``
    from gitops_ingress.core.routing import RouteTable
    from gitops_ingress.core.routing.groups import GroupMemo

    # the status models (and the diff under them) are the control plane's, not validate's
    from gitops_ingress.core.status import CommitInfo


class Parse(Protocol):
    """``core.objects.parse_file``'s signature; tests pass their own to count the parses."""

    def __call__(
        self, path: str, data: bytes, environment: str, settings: Settings, shapes: LineShapes, /, *, routes: bool
    ) -> ParsedFile: ...


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

    def annotation_uses(self, environment: str | None = None) -> tuple[AnnotationUse, ...]:
        """The annotation support table (core/annotations/usage.py) of one environment, or of
        every one (None): the keys of the Ingresses that we or ingress-nginx would serve."""
        chosen = self.environments.values() if environment is None else [self.environments[environment]]
        return annotation_uses(
            item for env in chosen for item in env.ingresses if served_by_us_or_nginx(item, self.settings)
        )


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
    render: Renderer | None = None,
    groups: GroupMemo | None = None,
    shapes: LineShapes | None = None,
) -> TreeBuild:
    """Every environment below ``roots`` (default: ``environments_dir``), or only ``environment``.
    ``settings_findings``: what reading the settings file found, kept with the repository-level
    ones. ``routes=False`` skips the routes (each file's own and the tables), for a caller that
    needs the findings only (``validate``: they were a fifth of its time on 10,000 Ingresses). ``render``: runs
    kustomize (``gitops_ingress.kustomize.render``); without it a kustomization is a finding.
    ``groups``: host groups built for other tables (the sync engine's, across its builds), shared
    with them (core/routing/groups.py). ``shapes``: the YAML reader's line memo (one that a build
    thread keeps across its builds); None makes one for this tree."""
    listed = _list(tree, settings, roots or [Root.at(settings.environments_dir)])
    findings = [*settings_findings, *listed.findings]
    where = shown_roots(roots) or settings.environments_dir
    names = sorted(listed.files.keys() | listed.refused.keys())
    if not names and not listed.listing_findings:
        message = f"no Ingress YAML files (*.yaml, *.yml) found in {where}"
        hint = f"put Ingress files under {settings.environments_dir}/<environment>/"
        findings.append(_repo_finding("config/no-yaml", message, where, hint))
    elif environment is not None and environment not in names:
        message = f'environment "{environment}" has no files in {where}; known: {", ".join(names)}'
        findings.append(_repo_finding("config/unknown-environment", message, where))
    chosen = [name for name in names if environment is None or name == environment]
    # one memo for the whole tree at least: manifests share most of their line shapes
    shapes = shapes if shapes is not None else LineShapes()
    rendered = _render_all(tree, listed, chosen, cache, render, settings, shapes, routes)
    count = sum(rendering.rendered for rendering in rendered.values())
    charts = _charts(listed, chosen)
    plain = {
        name: {path: file for path, file in listed.files.get(name, {}).items() if path not in charts}
        for name in chosen
        if name not in rendered
    }
    parsed, parse_count = _parse_all(tree, plain, cache, parse, settings, shapes, routes)
    parsed.update((rendering.parsed.path, rendering.parsed) for rendering in rendered.values())
    parsed.update(charts)
    count += parse_count
    environments = {
        name: _environment(
            name, *_sources(name, listed, rendered), listed.refused.get(name, []), parsed, settings, routes, groups
        )
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
    listing_findings: int = 0  # what the listings themselves found (a file too large, a link)
    roots: dict[str, Root] = field(default_factory=dict)  # environment -> the root it was listed under
    kustomizations: dict[str, str] = field(default_factory=dict)  # environment -> its folder's kustomization


def _list(tree: TreeSource, settings: Settings, roots: Sequence[Root]) -> _Listed:
    """Steps 1 and 2: list every root and name each file's environment."""
    listed = _Listed({}, {}, [])
    for root in roots:
        listing = tree.list(root.path, settings.policy.limits)
        # a file's environment is its folder's (the naming rule reads the folders of its path):
        # asked once per folder, not once per file (a burst lists 20 files of 6 folders per branch)
        by_folder: dict[str, str | None] = {}
        for file in listing.files:
            located = join_path(root.located, relative_path(root.path, file.path))
            folder = located.rpartition("/")[0]
            if folder in by_folder:
                name = by_folder[folder]
            else:
                name = by_folder[folder] = environment_for(root, located, settings)
            if name is None:
                listed.ignored += 1
                message = (
                    f"{file.path} is not inside an environment folder ({settings.environments_dir}/<env>/); ignored"
                )
                hint = "move it into a folder named after its environment"
                listed.findings.append(_repo_finding("config/layout", message, file.path, hint, Severity.WARNING))
            else:
                listed.files.setdefault(name, {})[file.path] = file
                listed.roots.setdefault(name, root)
                if posixpath.basename(file.path) in KUSTOMIZATION_NAMES and in_environment_folder(
                    root, located, settings
                ):
                    known = listed.kustomizations.get(name)
                    if known is None or _preference(file.path) < _preference(known):
                        listed.kustomizations[name] = file.path
        listed.listing_findings += len(listing.findings)
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
    shapes: LineShapes,
    routes: bool,
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
    count = 0
    for path, (file, name) in misses.items():
        data = contents[path]
        if isinstance(data, Finding):
            parsed[path] = data
            continue
        parsed[path] = result = parse(path, data, name, settings, shapes, routes=routes)
        count += 1
        if cache is not None and file.content_id:
            cache.put(file.content_id, path, result)
    return parsed, count


def _preference(path: str) -> int:
    return KUSTOMIZATION_NAMES.index(posixpath.basename(path))


def _render_all(
    tree: TreeSource,
    listed: _Listed,
    chosen: Sequence[str],
    cache: ParseStore | None,
    render: Renderer | None,
    settings: Settings,
    shapes: LineShapes,
    routes: bool,
) -> dict[str, Rendering]:
    """Step 2's kustomized environments: environment -> its kustomization's render."""
    wanted = [
        (name, listed.kustomizations[name], listed.roots[name]) for name in chosen if name in listed.kustomizations
    ]
    if not wanted:
        return {}
    # imported here: most trees hold no kustomization, and then the renderer's modules are not loaded
    from gitops_ingress.core.kustomize import render_environments

    return render_environments(tree, wanted, render, settings, shapes, cache, routes=routes)


def _charts(listed: _Listed, chosen: Sequence[str]) -> dict[str, ParsedFile | Finding]:
    """Files of a Helm chart's folder -> one finding at its Chart.yaml (the rest are skipped)."""
    skipped: dict[str, ParsedFile | Finding] = {}
    for name in chosen:
        files = listed.files.get(name, {})
        for chart in (path for path in files if posixpath.basename(path) == "Chart.yaml"):
            folder = posixpath.dirname(chart)
            message = "this folder is a Helm chart: its templates are not Kubernetes manifests until rendered"
            finding = Finding(
                rule="yaml/helm-template",
                severity=Severity.ERROR,
                message=message,
                file=chart,
                hint="render it with helm template first and validate the output",
            )
            for path in files:
                if is_below(folder, path):
                    skipped[path] = ParsedFile(path, (), (), (finding,) if path == chart else ())
    return skipped


def _sources(name: str, listed: _Listed, rendered: Mapping[str, Rendering]) -> tuple[list[str], tuple[str, ...]]:
    """What an environment's objects come from (its files, or its kustomization's render) and the
    files it was built from."""
    if name in rendered:
        return [rendered[name].parsed.path], rendered[name].inputs
    files = listed.files.get(name, {})
    return sorted(files), tuple(sorted(files))


def _environment(
    name: str,
    sources: Sequence[str],
    files: tuple[str, ...],
    refused: list[Finding],
    parsed: Mapping[str, ParsedFile | Finding],
    settings: Settings,
    routes: bool,
    groups: GroupMemo | None = None,
) -> EnvironmentBuild:
    """Step 4: one environment's objects, validated as a whole and compiled."""
    ingresses: list[LocatedIngress] = []
    compiled: dict[int, tuple[Route, ...]] = {}  # each parsed file's own routes (ParsedFile.routes)
    classes: list[IngressClass] = []
    findings = list(refused)
    for path in sources:
        result = parsed[path]
        if isinstance(result, Finding):
            findings.append(result)
            continue
        ingresses.extend(result.ingresses)
        compiled.update(result.compiled())
        classes.extend(result.classes)
        findings.extend(result.findings)
    findings.extend(validate_environment(ingresses, name, settings, len(files)))
    table = compile_routes(ingresses, settings, compiled, groups) if routes else None
    unique = list(dict.fromkeys(findings))  # a render repeats what the listing found in its folder
    return EnvironmentBuild(name, table, tuple(ingresses), tuple(sorted_findings(unique)), files, tuple(classes))


def _checked_together(environments: dict[str, EnvironmentBuild], settings: Settings) -> dict[str, EnvironmentBuild]:
    """Step 5, when every environment was built: what only all of them together show (a host
    claimed by two environments), added to each environment it concerns."""
    extra = validate_across_environments({name: env.ingresses for name, env in environments.items()}, settings)
    return {
        name: replace(env, findings=tuple(sorted_findings([*env.findings, *extra[name]]))) if name in extra else env
        for name, env in environments.items()
    }
