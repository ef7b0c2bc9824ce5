"""Issue 12, point 16, with real pushes into a bare remote: the mirror's loose objects stay bounded
(each small fetch stores its objects loose, about 16 KB per push), and collecting them loses
nothing a reader needs."""

from __future__ import annotations

from pathlib import Path

from gitops_ingress.gitrepo import Mirror
from tests.support.gitrepos import Remote, WorkTree

PUSHES = 30
LIMIT = 20  # loose objects; each push below adds five (a commit, three trees, a blob)


def test_loose_objects_stay_bounded_over_many_pushes(remote: Remote, work: WorkTree, tmp_path: Path) -> None:
    mirror = Mirror(remote.url, tmp_path / "bounded.git", fetch_timeout=30.0, loose_object_limit=LIMIT)
    mirror.ensure()
    try:
        most = 0
        for index in range(PUSHES):
            work.write({"environments/production/app.yaml": f"# push {index}\n"})
            work.commit(f"push {index}")
            head = work.push("main")
            mirror.fetch("main" if index % 2 else None)  # a webhook's one-branch fetch, and a poll's
            loose, packs = mirror.loose_objects()
            most = max(most, loose)
            assert packs <= 2, packs
            assert mirror.read_file(head, "environments/production/app.yaml") == f"# push {index}\n".encode()
        # 150 objects were fetched; without collection all of them would still be loose
        assert most < LIMIT, most  # a fetch that reaches the limit collects
        assert mirror.branches()["main"] == head
    finally:
        mirror.close()


def test_the_mirror_switches_off_gits_detached_maintenance(mirror: Mirror) -> None:
    """git fetch would start a detached ``git gc --auto`` racing the next fetch: ours runs in the
    open, under the fetch lock."""
    config = (mirror.path / "config").read_text()
    assert "[maintenance]" in config and "auto = false" in config, config
