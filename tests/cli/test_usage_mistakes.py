"""Nothing to check is a usage mistake: exit 2 with a message naming what was given (issue 13, point 10).

An unknown ``--env`` or a folder without Ingress files cannot be fixed by editing the files, so
it is not a finding (exit 1) but a usage error, for validate, routes and diff, over folders and
over git refs. The command-line contract of docs/cli.md stays: 0 valid, 1 findings, 2 usage.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.gitrepos import make_remote
from tests.support.manifests import ingress, to_yaml


def _environments(root: Path) -> Path:
    production = root / "environments" / "production"
    production.mkdir(parents=True)
    (production / "web.yaml").write_text(to_yaml(ingress()))
    return root / "environments"


def test_unknown_env_exits_2_naming_it_and_the_known_ones(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = _environments(tmp_path)
    for command in (("validate",), ("routes",), ("diff", str(folder))):
        result = cli(*command, str(folder), "--env", "nope")
        assert result.code == 2, (command, result.out, result.err)
        assert f'--env nope: environment "nope" has no files in {folder}; known: production' in result.err
        assert result.out == ""
    assert cli("validate", str(folder), "--env", "production").code == 0


def test_empty_folders_exit_2_and_forty_of_them_are_not_one_long_file_name(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    empty = [tmp_path / f"empty-{number:02}" for number in range(40)]
    for folder in empty:
        folder.mkdir()
    one = cli("validate", str(empty[0]), "--format", "json")
    assert one.code == 2 and one.out == "" and f"found in {empty[0]}" in one.err
    many = cli("validate", *map(str, empty), "--format", "json")
    assert many.code == 2 and many.out == ""
    assert f"found in {empty[0]}, {empty[1]}, {empty[2]} and 37 more" in many.err
    assert str(empty[3]) not in many.err
    assert cli("routes", str(empty[0])).code == 2


def test_diff_refuses_two_empty_sides_but_not_one(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    both = cli("diff", str(tmp_path / "before"), str(tmp_path / "after"))
    assert both.code == 2 and "no Ingress YAML files" in both.err
    (tmp_path / "after" / "web.yaml").write_text(to_yaml(ingress()))
    added = cli("diff", str(tmp_path / "before"), str(tmp_path / "after"), "--format", "json")
    assert added.code == 0, added.err  # a first environment is an addition, not a mistake
    assert [c["kind"] for c in added.json()["changes"]] == ["added"]


def test_git_refs_without_the_env_exit_2_naming_the_refs(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = make_remote(tmp_path).clone()
    work.write({"environments/production/web.yaml": to_yaml(ingress())})
    work.commit("routes")
    result = cli("validate", "--repo", str(work.path), "--ref", "HEAD", "--env", "qa")
    assert result.code == 2 and '--ref HEAD: --env qa: environment "qa" has no files' in result.err
    diff = cli("diff", "--repo", str(work.path), "--base", "HEAD", "--head", "HEAD", "--env", "qa")
    assert diff.code == 2 and "--base HEAD --head HEAD: --env qa:" in diff.err
