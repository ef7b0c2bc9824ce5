"""core.kustomize's one boundary rule: a kustomize input is placed by its repository path, and a
path outside the repository is refused, whichever way the root was given."""

from __future__ import annotations

import pytest

from gitops_ingress.core.environments import Root
from gitops_ingress.core.kustomize_inputs import repository_path


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        (Root("environments", "environments", "environments"), "base/ingress.yaml", "base/ingress.yaml"),
        (Root("environments", "environments", "environments"), "environments/prod/k.yaml", "environments/prod/k.yaml"),
        (Root(".", "environments/prod", "prod"), "../../base/ingress.yaml", "base/ingress.yaml"),
        (Root(".", "environments/prod", "prod"), "kustomization.yaml", "environments/prod/kustomization.yaml"),
        (Root(".", "environments/prod", "prod"), "../../../etc/passwd", None),
        (Root("/srv/repo/environments", "environments", "environments"), "/srv/repo/base/a.yaml", "base/a.yaml"),
        (Root("/srv/repo/environments", "environments", "environments"), "/srv/other/a.yaml", None),
        (Root("", "", "default"), "base/a.yaml", "base/a.yaml"),  # a git commit: paths are the repository's
        (Root("", "", "default"), "../a.yaml", None),
        (Root("/tmp/routes", "/tmp/routes", "routes"), "/tmp/routes/a.yaml", "a.yaml"),  # no repository: the root
        (Root("/tmp/routes", "/tmp/routes", "routes"), "/tmp/base/a.yaml", None),
    ],
)
def test_inputs_are_placed_by_their_repository_path(
    root: Root, path: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the rule is pure: run from the file system's root, where posixpath.relpath would clip "../.."
    monkeypatch.chdir("/")
    assert repository_path(root, path) == expected
