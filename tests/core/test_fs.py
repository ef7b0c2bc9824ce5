"""Reading folders: YAML only, no symlinks followed, size and count limits reported."""

from __future__ import annotations

import os

import pytest

from gitops_ingress.core.errors import SourceError
from gitops_ingress.fs import read_tree


def write(path, data: bytes = b"a: 1\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_reads_yaml_at_any_depth_with_posix_paths(tmp_path):
    write(tmp_path / "prod" / "shop" / "web.yaml")
    write(tmp_path / "prod" / "api.yml", b"b: 2\n")
    write(tmp_path / "prod" / "notes.txt")
    write(tmp_path / ".git" / "config.yaml")
    tree = read_tree(tmp_path, max_file_bytes=100, max_files=10)
    assert tree.files == {"prod/api.yml": b"b: 2\n", "prod/shop/web.yaml": b"a: 1\n"}
    assert tree.findings == []


def test_a_single_file_root(tmp_path):
    write(tmp_path / "web.yaml")
    assert read_tree(tmp_path / "web.yaml", max_file_bytes=100, max_files=10).files == {"web.yaml": b"a: 1\n"}


def test_symlink_out_of_the_tree_is_reported_not_followed(tmp_path):
    secret = tmp_path / "outside" / "secret.yaml"
    write(secret, b"password: hunter2\n")
    root = tmp_path / "repo"
    write(root / "ok.yaml")
    os.symlink(secret, root / "link.yaml")
    os.symlink(tmp_path / "outside", root / "linkdir")
    tree = read_tree(root, max_file_bytes=100, max_files=10)
    assert tree.files == {"ok.yaml": b"a: 1\n"}
    assert sorted((f.rule, f.file) for f in tree.findings) == [
        ("fs/symlink", "link.yaml"),
        ("fs/symlink", "linkdir"),
    ]
    assert all("outside the folder" in f.message for f in tree.findings)


def test_large_file_is_reported_and_not_read_whole(tmp_path):
    write(tmp_path / "big.yaml", b"x" * (5 * 1024 * 1024))
    write(tmp_path / "small.yaml")
    tree = read_tree(tmp_path, max_file_bytes=1024 * 1024, max_files=10)
    assert list(tree.files) == ["small.yaml"]
    (finding,) = tree.findings
    assert (finding.rule, finding.file) == ("yaml/too-large", "big.yaml")


def test_stops_at_max_files(tmp_path):
    for index in range(5):
        write(tmp_path / f"f{index}.yaml")
    tree = read_tree(tmp_path, max_file_bytes=100, max_files=3)
    assert len(tree.files) == 3
    assert [f.rule for f in tree.findings] == ["fs/too-many-files"]


def test_missing_root_raises_source_error(tmp_path):
    with pytest.raises(SourceError):
        read_tree(tmp_path / "nope", max_file_bytes=100, max_files=3)


def test_folder_without_yaml_gives_empty_read(tmp_path):
    write(tmp_path / "README.md")
    tree = read_tree(tmp_path, max_file_bytes=100, max_files=3)
    assert tree.files == {} and tree.findings == []
