"""One commit -> the desired route tables of its environments, with every finding.

This is the blocking half of a sync (git object reads, YAML parsing, validation, compilation) and
runs in a worker thread. It reads the commit's ``environments/`` tree listing from git objects,
takes parsed files from the ``ParseCache`` by blob SHA, reads and parses only the misses, then
lets ``core.config.load_snapshot`` do the cross-file validation and ``compile_routes`` build one
table per environment. Findings from the tree listing itself (symlinks, submodules, oversized
files, too many files) are attributed to the environment whose folder holds the path, so they
refuse that environment only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from gitops_ingress.core.config import environment_of, load_snapshot
from gitops_ingress.core.findings import Finding, has_errors, sorted_findings
from gitops_ingress.core.models import LocatedIngress
from gitops_ingress.core.routing import RouteTable, compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import CommitInfo
from gitops_ingress.sync.parsecache import ParseCache
from gitops_ingress.sync.protocols import RepoSource


@dataclass(frozen=True, slots=True)
class EnvironmentBuild:
    name: str
    table: RouteTable
    ingresses: tuple[LocatedIngress, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


@dataclass(frozen=True, slots=True)
class CommitBuild:
    commit: str
    info: CommitInfo
    environments: dict[str, EnvironmentBuild]
    findings: tuple[Finding, ...]  # repository-level (layout, no YAML at all)
    files_parsed: int
    files_total: int

    @property
    def ok(self) -> bool:
        """False when the commit as a whole is unusable; environments are judged one by one."""
        return not has_errors(self.findings)


def build_commit(
    repo: RepoSource, commit: str, settings: Settings, cache: ParseCache, repo_lock: threading.Lock
) -> CommitBuild:
    limits = settings.policy.limits
    root = settings.environments_dir.strip("/")
    with repo_lock:
        info = repo.commit_info(commit)
        listing = repo.list_tree(commit, root, max_file_bytes=limits.max_file_bytes, max_files=limits.max_files)
        blobs = {path: entry.sha for path, entry in listing.entries.items()}
        parse = cache.session(blobs)
        files = dict.fromkeys(blobs, b"")
        for path in parse.misses():
            files[path] = repo.read_blob(blobs[path])
    snapshot = load_snapshot(files, settings, parse=parse)
    by_env: dict[str, list[Finding]] = {}
    repo_findings = list(snapshot.findings)
    for finding in listing.findings:
        owner = environment_of(finding.file, settings)
        if owner is None:
            repo_findings.append(finding)
        else:
            by_env.setdefault(owner, []).append(finding)
    environments: dict[str, EnvironmentBuild] = {}
    for name, env in snapshot.environments.items():
        environments[name] = EnvironmentBuild(
            name,
            compile_routes(env.ingresses, settings),
            env.ingresses,
            tuple(sorted_findings([*env.findings, *by_env.pop(name, [])])),
        )
    # an environment whose every file was refused by the listing still exists, and is refused
    for name, found in by_env.items():
        environments[name] = EnvironmentBuild(name, RouteTable(), (), tuple(sorted_findings(found)))
    if environments:  # "no YAML" is moot once an environment exists, even a refused one
        repo_findings = [f for f in repo_findings if f.rule != "config/no-yaml"]
    return CommitBuild(
        commit,
        info,
        dict(sorted(environments.items())),
        tuple(sorted_findings(repo_findings)),
        parse.parsed,
        len(blobs),
    )
