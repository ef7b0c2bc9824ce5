"""Every bad input of issue 2, through ``gitops-ingress validate``: exit code, file, line, rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.manifests import (
    BACKEND,
    PATH_ENTRY,
    SERVICE,
    Obj,
    drop,
    indent_with_tab,
    ingress,
    insert_line_after,
    line_of,
    set_at,
    to_yaml,
)


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


Expected = tuple[str, str, int]  # rule, file, line (0: the file as a whole)


def case(
    files: dict[str, Obj | str | bytes], rule: str, file: str, at: str | int
) -> tuple[dict[str, str | bytes], Expected]:
    """The files (objects rendered as YAML) and the finding expected in ``file``: on the line that
    starts with ``at``, or on line ``at`` of a text that is not an object from the builder."""
    texts = {name: to_yaml(content) if isinstance(content, dict) else content for name, content in files.items()}
    if isinstance(at, int):
        return texts, (rule, file, at)
    text = texts[file]
    assert isinstance(text, str), "give the line of a text that is not from the builder"
    return texts, (rule, file, line_of(text, at))


WEB = ingress()
TEXT = to_yaml(WEB)
DUPLICATE = insert_line_after(TEXT, "namespace:", "name: again")
FALLBACK = {"service": {"name": "a", "port": {"number": 80}}}
SNIPPET = "nginx.ingress.kubernetes.io/configuration-snippet"
REDIRECT_CODE = "nginx.ingress.kubernetes.io/permanent-redirect-code"
AUTH_TLS = "nginx.ingress.kubernetes.io/auth-tls-secret"

CASES: dict[str, tuple[dict[str, str | bytes], Expected]] = {
    "duplicate-key": case({"a.yaml": DUPLICATE}, "yaml/duplicate-key", "a.yaml", line_of(DUPLICATE, "name: again")),
    "alias-bomb": case({"bomb.yaml": alias_bomb()}, "yaml/alias-bomb", "bomb.yaml", 5),
    "5-MiB-file": case({"huge.yaml": "# " + "x" * (5 * 1024 * 1024) + "\n"}, "yaml/too-large", "huge.yaml", 0),
    "invalid-utf8": case(
        {"bad.yaml": TEXT.encode().replace(b"shop.example.com", b"sh\xffop.example.com")},
        "yaml/encoding",
        "bad.yaml",
        line_of(TEXT, "host:"),
    ),
    "tab-indented": case({"tab.yaml": indent_with_tab(TEXT, "name:")}, "yaml/tab", "tab.yaml", line_of(TEXT, "name:")),
    "broken-document": case(
        {"broken.yaml": "apiVersion: v1\nkind: [Ingress\nmetadata: {}\n"}, "yaml/syntax", "broken.yaml", 3
    ),
    "list-at-top-level": case({"list.yaml": "- a\n- b\n"}, "yaml/not-a-mapping", "list.yaml", 1),
    "ingress-without-spec": case(
        {"nospec.yaml": drop(ingress("x"), "spec")}, "api/rules-or-default-backend", "nospec.yaml", "apiVersion:"
    ),
    "neither-rules-nor-default": case(
        {"empty-spec.yaml": drop(ingress("x"), "spec.rules")},
        "api/rules-or-default-backend",
        "empty-spec.yaml",
        "spec:",
    ),
    "path-without-slash": case({"a.yaml": ingress(path="api")}, "api/path-invalid", "a.yaml", "path:"),
    "path-with-dotdot": case({"a.yaml": ingress(path="/a/../b")}, "api/path-invalid", "a.yaml", "path:"),
    "missing-path-type": case(
        {"a.yaml": drop(WEB, f"{PATH_ENTRY}.pathType")}, "api/path-type-required", "a.yaml", "path:"
    ),
    "unknown-path-type": case(
        {"a.yaml": ingress(path_type="Regex")}, "api/path-type-unsupported", "a.yaml", "pathType:"
    ),
    "uppercase-host": case({"a.yaml": ingress(host="Shop.example.com")}, "api/host-invalid", "a.yaml", "host:"),
    "ip-host": case({"a.yaml": ingress(host="10.0.0.1")}, "api/host-ip", "a.yaml", "host:"),
    "wildcard-in-middle": case({"a.yaml": ingress(host="foo.*.com")}, "api/host-invalid", "a.yaml", "host:"),
    "service-and-resource": case(
        {"a.yaml": set_at(WEB, f"{BACKEND}.resource", {"kind": "Bucket", "name": "b"})},
        "api/backend-both",
        "a.yaml",
        "backend:",
    ),
    "port-name-and-number": case(
        {"a.yaml": set_at(WEB, f"{SERVICE}.port.name", "http")}, "api/port-both", "a.yaml", "backend:"
    ),
    "port-70000": case({"a.yaml": ingress(port=70000)}, "api/port-number-invalid", "a.yaml", "number:"),
    "service-name-underscore": case(
        {"a.yaml": ingress(service="web_app")}, "api/service-name-invalid", "a.yaml", "name: web_app"
    ),
    "same-host-path-type-in-two-files": case(
        {"a.yaml": ingress(name="one"), "b.yaml": ingress(name="two")}, "cross/path-conflict", "b.yaml", "path:"
    ),
    "configuration-snippet": case(
        {"a.yaml": ingress(annotations={SNIPPET: 'more_set_headers "x: y";'})},
        "policy/denied-annotation",
        "a.yaml",
        f"{SNIPPET}:",
    ),
    "annotation-value": case(
        {"a.yaml": ingress(annotations={REDIRECT_CODE: "200"})},
        "annotation/invalid-value",
        "a.yaml",
        f"{REDIRECT_CODE}:",
    ),
    "auth-tls-annotation": case(
        {"a.yaml": ingress(annotations={AUTH_TLS: "shop/ca"})}, "annotation/refused", "a.yaml", f"{AUTH_TLS}:"
    ),
}


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    env = root / "environments" / "production"
    env.mkdir(parents=True)
    for name, content in files.items():
        target = env / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return env


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_1_and_names_file_line_rule(case: str, tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    files, (rule, file, line) = CASES[case]
    write(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "environments", "--format", "json")
    assert result.code == 1, result.out
    findings = result.json()["findings"]
    matching = [f for f in findings if f["rule"] == rule and f["severity"] == "error"]
    assert matching, f"no {rule} among {[(f['rule'], f['file'], f['line']) for f in findings]}"
    found = matching[0]
    assert found["file"] == f"environments/production/{file}"
    assert found["line"] == line, found  # 0: the file as a whole (it was not read)
    text = cli("validate", "environments")
    assert f"environments/production/{file}:" in text.out and rule in text.out
    assert "Traceback" not in text.out + text.err


def test_empty_file_is_not_an_error(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, {"empty.yaml": "", "a.yaml": TEXT})
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "environments", "--format", "json")
    assert result.code == 0, result.out
    assert not [f for f in result.json()["findings"] if f["file"].endswith("empty.yaml")]


def test_folder_without_yaml_gets_a_clear_message(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_text("nothing here")
    result = cli("validate", str(tmp_path))
    assert result.code == 2 and result.out == ""  # nothing to check: a usage mistake (test_usage_mistakes.py)
    assert f"no Ingress YAML files (*.yaml, *.yml) found in {tmp_path}" in result.err


def test_missing_path_is_a_failure_not_a_finding(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(tmp_path / "nope"))
    assert result.code == 2 and "no such file or folder" in result.err
