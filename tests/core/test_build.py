"""The pipeline over files in memory: environments, naming, listing findings, the parse cache."""

from __future__ import annotations

import pytest

from gitops_ingress.core.build import build
from gitops_ingress.core.environments import Root, environment_of
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.objects import ParsedFile, parse_file
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.tree import MemoryTree
from tests.support.manifests import ingress, to_yaml

SETTINGS = Settings()


def test_environments_are_the_first_folder_under_environments_dir():
    files = {
        "environments/staging/shop/web.yaml": to_yaml(ingress("web")).encode(),
        "environments/production/shop/web.yml": to_yaml(ingress("web")).encode(),
        "environments/production/api.yaml": to_yaml(ingress("api", host="api.example.com")).encode(),
        "environments/production/README.md": b"not yaml",
        "environments/production/.backup/old.yaml": b"not: [valid",  # hidden folders are skipped
        "docs/example.yaml": b"not: [valid",
    }
    built = build(MemoryTree(files), SETTINGS)
    assert list(built.environments) == ["production", "staging"]
    production = built.environments["production"]
    assert production.files == ("environments/production/api.yaml", "environments/production/shop/web.yml")
    assert [i.key for i in production.ingresses] == ["shop/api", "shop/web"]
    assert all(i.environment == "production" for i in production.ingresses)
    assert {r.host for r in production.table.routes} == {"api.example.com", "shop.example.com"}
    assert built.ok and built.findings == ()
    only = build(MemoryTree(files), SETTINGS, environment="staging")
    assert list(only.environments) == ["staging"]


def test_files_directly_under_environments_dir_are_reported():
    built = build(MemoryTree({"environments/loose.yaml": to_yaml(ingress()).encode()}), SETTINGS)
    rules = [f.rule for f in built.findings]
    assert sorted(rules) == ["config/layout", "config/no-yaml"]
    assert not built.ok


def test_no_yaml_is_a_repository_level_error():
    built = build(MemoryTree({"README.md": b"hello"}), SETTINGS)
    (finding,) = built.findings
    assert finding.rule == "config/no-yaml" and finding.severity is Severity.ERROR
    assert "environments" in finding.message
    assert not built.ok and built.environments == {}


def test_unknown_environment_is_reported():
    built = build(MemoryTree({"environments/prod/a.yaml": to_yaml(ingress()).encode()}), SETTINGS, environment="qa")
    assert [f.rule for f in built.findings] == ["config/unknown-environment"]


def test_findings_are_sorted_and_all_findings_merges_levels():
    files = {
        "environments/prod/b.yaml": to_yaml(ingress("b", host="Bad")).encode(),
        "environments/prod/a.yaml": b"a: 1\na: 2\n",
    }
    built = build(MemoryTree(files), SETTINGS)
    findings = built.environments["prod"].findings
    assert [f.file for f in findings] == sorted(f.file for f in findings)
    assert {f.rule for f in built.all_findings()} >= {"api/host-invalid", "yaml/duplicate-key"}
    assert not built.environments["prod"].ok


def test_parse_is_injectable():
    calls: list[str] = []

    def counting(path, data, environment, settings, shapes, /, *, routes):
        calls.append(path)
        return parse_file(path, data, environment, settings, shapes, routes=routes)

    build(MemoryTree({"environments/prod/a.yaml": to_yaml(ingress()).encode()}), SETTINGS, parse=counting)
    assert calls == ["environments/prod/a.yaml"]


def test_a_root_outside_every_environments_folder_is_one_environment_named_after_it():
    files = {
        "some/dir/x.yaml": to_yaml(ingress("x")).encode(),
        "some/dir/sub/w.yaml": to_yaml(ingress("w", host="w.example.com")).encode(),
        "some/environments/prod/y.yaml": to_yaml(ingress("y", host="y.example.com")).encode(),
    }
    built = build(MemoryTree(files), SETTINGS, [Root.at("some/dir"), Root.at("some/environments")])
    assert {name: len(env.ingresses) for name, env in built.environments.items()} == {"dir": 2, "prod": 1}
    assert {i.environment for i in built.environments["dir"].ingresses} == {"dir"}


def test_the_naming_rule_reads_the_first_environments_folder_of_a_path():
    assert environment_of("environments/prod/shop/a.yaml", SETTINGS) == "prod"
    assert environment_of("/srv/repo/environments/prod/a.yaml", SETTINGS) == "prod"
    assert environment_of("environments/a.yaml", SETTINGS) is None
    assert environment_of("environments/prod", SETTINGS) is None
    assert environment_of("elsewhere/prod/a.yaml", SETTINGS) is None
    nested = Settings.build({"environments_dir": "config/envs"})
    assert environment_of("config/envs/qa/a.yaml", nested) == "qa"
    assert environment_of("envs/qa/a.yaml", nested) is None


def test_listing_findings_go_to_the_environment_that_holds_the_path():
    limits = {"policy": {"limits": {"max_file_bytes": 2000}}}
    settings = Settings.build(limits)
    files = {
        "environments/prod/a.yaml": to_yaml(ingress("a")).encode(),
        "environments/prod/big.yaml": b"#" * 5000,
        "environments/qa/a.yaml": to_yaml(ingress("a", host="qa.example.com")).encode(),
        "environments/gone/big.yaml": b"#" * 5000,
    }
    built = build(MemoryTree(files), settings)
    assert [f.rule for f in built.environments["prod"].findings] == ["yaml/too-large"]
    assert built.environments["qa"].ok and built.ok
    gone = built.environments["gone"]  # every file refused: the environment exists, and is refused
    assert not gone.ok and len(gone.table.routes) == 0 and gone.files == ()


def test_a_build_without_routes_has_the_same_findings_and_no_table_to_misread():
    files = {
        "environments/prod/a.yaml": to_yaml(ingress("a", host="Bad")).encode(),
        # a path conflict and a shadowed path: cross-object findings, made without routes too
        "environments/prod/b.yaml": to_yaml(ingress("b", paths=["/", "/api"]), ingress("c", paths=["/api"])).encode(),
    }
    full, findings_only = build(MemoryTree(files), SETTINGS), build(MemoryTree(files), SETTINGS, routes=False)
    assert findings_only.all_findings() == full.all_findings() != []
    assert "cross/path-conflict" in {finding.rule for finding in findings_only.all_findings()}
    with pytest.raises(ValueError, match="without routes"):
        findings_only.environments["prod"].table  # noqa: B018


class _Store:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], ParsedFile] = {}

    def get(self, content_id: str, path: str, /) -> ParsedFile | None:
        return self.files.get((content_id, path))

    def put(self, content_id: str, path: str, parsed: ParsedFile, /) -> None:
        self.files[content_id, path] = parsed


def test_a_file_parsed_without_routes_has_none_and_still_compiles_from_the_cache():
    text = to_yaml(ingress("a", paths=["/", "/api"]), ingress("b", host="b.example.com")).encode()
    assert parse_file("environments/prod/a.yaml", text, "prod", SETTINGS, routes=False).routes == ()
    assert len(parse_file("environments/prod/a.yaml", text, "prod", SETTINGS).routes) == 2
    store = _Store()
    tree = MemoryTree({"environments/prod/a.yaml": text})
    build(tree, SETTINGS, cache=store, routes=False)
    assert [parsed.routes for parsed in store.files.values()] == [()]
    cached, fresh = build(tree, SETTINGS, cache=store), build(tree, SETTINGS)
    assert cached.files_parsed == 0
    assert cached.environments["prod"].table.routes == fresh.environments["prod"].table.routes != ()


def test_a_line_memo_kept_across_builds_builds_them_alike_and_is_used():
    """The sync engine's build threads keep one ``LineShapes`` across their builds (sync/build.py)."""

    def tree(n: int) -> MemoryTree:
        return MemoryTree(
            {
                f"environments/prod/app{n}.yaml": to_yaml(
                    ingress(f"app{n}", f"app{n}.example.com", paths=["/", f"/v{n}"])
                ).encode(),
                "environments/prod/bad.yaml": to_yaml(ingress("bad", host="Bad")).encode(),
            }
        )

    kept = LineShapes()
    first = build(tree(1), SETTINGS, shapes=kept)
    learnt = len(kept.layouts)
    second = build(tree(2), SETTINGS, shapes=kept)
    assert learnt and len(kept.layouts) == learnt  # the second tree's documents were laid out before
    for built, alone in ((first, build(tree(1), SETTINGS)), (second, build(tree(2), SETTINGS))):
        assert built.all_findings() == alone.all_findings() != []
        assert built.environments["prod"].table.version == alone.environments["prod"].table.version
        assert [i.ingress for i in built.environments["prod"].ingresses] == [
            i.ingress for i in alone.environments["prod"].ingresses
        ]
