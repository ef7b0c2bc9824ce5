"""Folders as a tree source (the one file filter, no symlinks followed, limits reported) and the
settings search."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.fs import FolderTree, find_repository, folder_root


def write(path: Path, data: bytes = b"a: 1\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def listing(root: Path, max_file_bytes: int = 100, max_files: int = 10):  # type: ignore[no-untyped-def]
    return FolderTree().list(str(root), LimitSettings(max_file_bytes=max_file_bytes, max_files=max_files))


def contents(root: Path, **limits: int) -> dict[str, bytes | Finding]:
    return FolderTree().read(listing(root, **limits).files)


def test_reads_yaml_at_any_depth_skipping_hidden_folders(tmp_path: Path) -> None:
    write(tmp_path / "prod" / "shop" / "web.yaml")
    write(tmp_path / "prod" / "api.yml", b"b: 2\n")
    write(tmp_path / "prod" / "notes.txt")
    write(tmp_path / "prod" / "gitops-ingress.yaml")  # the settings file is not a manifest
    write(tmp_path / ".git" / "config.yaml")
    write(tmp_path / "prod" / ".backup" / "old.yaml")
    found = contents(tmp_path)
    assert found == {f"{tmp_path}/prod/api.yml": b"b: 2\n", f"{tmp_path}/prod/shop/web.yaml": b"a: 1\n"}
    assert listing(tmp_path).findings == ()


def test_a_single_file_root(tmp_path: Path) -> None:
    write(tmp_path / "web.yaml")
    assert contents(tmp_path / "web.yaml") == {f"{tmp_path}/web.yaml": b"a: 1\n"}


def test_symlink_out_of_the_tree_is_reported_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.yaml"
    write(secret, b"password: hunter2\n")
    root = tmp_path / "repo"
    write(root / "ok.yaml")
    os.symlink(secret, root / "link.yaml")
    os.symlink(tmp_path / "outside", root / "linkdir")
    tree = listing(root)
    assert [f.path for f in tree.files] == [f"{root}/ok.yaml"]
    assert sorted((f.rule, f.file) for f in tree.findings) == [
        ("fs/symlink", f"{root}/link.yaml"),
        ("fs/symlink", f"{root}/linkdir"),
    ]
    assert all("outside the folder" in f.message for f in tree.findings)


def test_large_file_is_reported_and_not_read(tmp_path: Path) -> None:
    write(tmp_path / "big.yaml", b"x" * (5 * 1024 * 1024))
    write(tmp_path / "small.yaml")
    tree = listing(tmp_path, max_file_bytes=1024 * 1024)
    assert [f.path for f in tree.files] == [f"{tmp_path}/small.yaml"]
    (finding,) = tree.findings
    assert (finding.rule, finding.file) == ("yaml/too-large", f"{tmp_path}/big.yaml")


def test_a_file_that_grew_after_the_listing_is_refused_not_read_whole(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml")
    (file,) = listing(tmp_path).files
    write(tmp_path / "a.yaml", b"x" * 10_000)
    finding = FolderTree().read([file])[file.path]
    assert isinstance(finding, Finding) and (finding.rule, finding.file) == ("fs/unreadable", file.path)


def test_stops_at_max_files(tmp_path: Path) -> None:
    for index in range(5):
        write(tmp_path / f"f{index}.yaml")
    tree = listing(tmp_path, max_files=3)
    assert len(tree.files) == 3
    assert [f.rule for f in tree.findings] == ["fs/too-many-files"]


def test_missing_root_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        listing(tmp_path / "nope")


def test_folder_without_yaml_gives_an_empty_listing(tmp_path: Path) -> None:
    write(tmp_path / "README.md")
    tree = listing(tmp_path)
    assert tree.files == () and tree.findings == ()


def test_the_settings_search_goes_up_to_the_git_top_level(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    env = repo / "config" / "environments" / "prod"
    env.mkdir(parents=True)
    write(tmp_path / "gitops-ingress.yaml")  # above the git top level: never used
    assert find_repository(env).settings_file is None and find_repository(env).root == repo
    write(repo / "gitops-ingress.yaml")
    assert find_repository(env).settings_file == repo / "gitops-ingress.yaml"
    write(repo / "config" / "gitops-ingress.yaml")  # the nearest one wins
    found = find_repository(env / "missing.yaml")
    assert found.settings_file == repo / "config" / "gitops-ingress.yaml" and found.root == repo / "config"


def test_a_folder_root_is_located_below_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "environments" / "prod").mkdir(parents=True)
    (tmp_path / "routes").mkdir()
    repository = find_repository(tmp_path)
    inside = folder_root(str(tmp_path / "environments" / "prod"), repository)
    assert (inside.located, inside.name) == ("environments/prod", "prod")
    assert folder_root(str(tmp_path / "routes"), repository).name == "routes"
    assert folder_root(str(tmp_path), repository).located == ""
