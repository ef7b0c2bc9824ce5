"""Issue 12, scale: one push of many new branches, a webhook per branch, all of them live.

The branches arrive in one real ``git push`` to a bare remote and their webhooks at once (as a
forge sends one per ref): the deliveries coalesce into one fetch, the burst's new objects are
read ahead in one go (gitrepo/preload.py), every branch is applied with its own routes, and a file
that all the branches share is parsed once, its host group built once (with one build worker, so that "once" does not
depend on which thread asked first: two builds that miss one file at the same moment both parse
it, harmlessly). Figures for the 500-branch burst are bench/scale.py's, never a timed test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync import EngineOptions
from gitops_ingress.sync.engine import PRELOAD_AT, TRACKED_NAMES
from tests.support.gitrepos import git
from tests.support.manifests import ingress, to_yaml

from .conftest import running, seed

pytestmark = pytest.mark.anyio
BRANCHES = PRELOAD_AT + 4  # enough to be read ahead as a burst
SHARED = to_yaml(ingress("shared", "shared.example.com", "web", path="/shared"))


async def test_one_push_of_many_new_branches_goes_live_with_one_fetch_and_shared_files_parsed_once(
    tmp_path: Path,
) -> None:
    remote, work = seed(tmp_path)
    names = [f"burst/b{n:02d}" for n in range(BRANCHES)]
    for n, name in enumerate(names):
        work.branch(name, "main")
        work.write(
            {
                f"environments/production/b{n}.yaml": to_yaml(ingress(f"b{n}", f"b{n}.example.com", "web")),
                "environments/production/shared.yaml": SHARED,
            }
        )
        work.commit(f"branch {n}")
    options = EngineOptions(poll_interval=3600, debounce=0.01, build_workers=1)
    async with running(tmp_path, remote, options=options) as h:
        fetches = h.mirror.fetches
        counted = h.engine.metrics.registry.get_sample_value("gitops_ingress_fetches_total")
        git(work.path, "push", "-q", "origin", "refs/heads/burst/*:refs/heads/burst/*")  # one push
        for name in names:  # every delivery lands before the watcher's debounce ends
            await h.engine.push(name, False)
        await h.engine.settle(20.0)
        assert h.mirror.fetches == fetches + 1 and h.mirror.asked[-1] is None  # one fetch of every ref
        assert h.engine.metrics.registry.get_sample_value("gitops_ingress_fetches_total") == counted + 1  # type: ignore[operator]
        heads = remote.branches()
        for n, name in enumerate(names):
            status = h.engine.branch(name)
            assert (
                status is not None
                and status.state is SyncState.APPLIED
                and status.head is not None
                and status.head.sha == heads[name]
            )
            host = preview_host(name, f"b{n}.example.com", Settings().preview_domain)
            assert h.resolve(host) is not None, name
        # a sync's history rows (one per environment) each carry the build's count: take one
        burst = {name: [r.files_parsed for r in h.engine.history(name) if r.commit == heads[name]] for name in names}
        assert all(burst.values()), burst
        # each branch parses its own new file; the shared one is parsed by the first build only
        assert sum(parsed[0] for parsed in burst.values()) == BRANCHES + 1
        # and their tables (both environments merged) share the shared file's host group: one object
        state = h.engine.routing_state()
        assert len({id(state.previews[name].host_group("shared.example.com")[1]) for name in names}) == 1


async def test_the_tracked_verdicts_kept_per_name_stay_bounded(tmp_path: Path) -> None:
    """Preview branch names come and go for as long as the service runs: their verdicts are
    kept up to a bound, and still right past it."""
    remote, _ = seed(tmp_path)
    settings = Settings.build({"branches": {"include": ["feature/*"], "exclude": ["feature/skip-*"]}})
    async with running(tmp_path, remote, settings) as h:
        names = [f"feature/{n}" for n in range(TRACKED_NAMES + 10)]
        assert all(h.engine.tracked(name) for name in names)
        assert len(h.engine._tracked) <= TRACKED_NAMES
        assert not h.engine.tracked("feature/skip-1") and not h.engine.tracked("other/1")
        assert h.engine.tracked("main") and h.engine.tracked("feature/0")
