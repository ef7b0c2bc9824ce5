"""Every bad input of issue 2, through ``gitops-ingress validate``: exit code, file, line, rule."""

from __future__ import annotations

from pathlib import Path

import pytest

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
spec:
  ingressClassName: gitops-ingress
  rules:
    - host: {host}
      http:
        paths:
          - path: {path}
            pathType: {path_type}
            backend:
              service:
                name: {service}
                port:
                  number: {port}
"""


def ingress(
    name: str = "web",
    host: str = "shop.example.com",
    path: str = "/",
    path_type: str = "Prefix",
    service: str = "web",
    port: str = "80",
) -> str:
    return INGRESS.format(name=name, host=host, path=path, path_type=path_type, service=service, port=port)


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


# name -> (files, (rule, file, line) expected)
CASES: dict[str, tuple[dict[str, str | bytes], tuple[str, str, int]]] = {
    "duplicate-key": (
        {"a.yaml": ingress().replace("  namespace: shop\n", "  namespace: shop\n  name: again\n")},
        ("yaml/duplicate-key", "a.yaml", 6),
    ),
    "alias-bomb": ({"bomb.yaml": alias_bomb()}, ("yaml/alias-bomb", "bomb.yaml", 5)),
    "5-MiB-file": ({"huge.yaml": "# " + "x" * (5 * 1024 * 1024) + "\n"}, ("yaml/too-large", "huge.yaml", 0)),
    "invalid-utf8": (
        {"bad.yaml": ingress().encode().replace(b"shop.example.com", b"sh\xffop.example.com")},
        ("yaml/encoding", "bad.yaml", 9),
    ),
    "tab-indented": ({"tab.yaml": ingress().replace("  name: web", "\tname: web")}, ("yaml/tab", "tab.yaml", 4)),
    "broken-document": (
        {"broken.yaml": "apiVersion: v1\nkind: [Ingress\nmetadata: {}\n"},
        ("yaml/syntax", "broken.yaml", 3),
    ),
    "list-at-top-level": ({"list.yaml": "- a\n- b\n"}, ("yaml/not-a-mapping", "list.yaml", 1)),
    "ingress-without-spec": (
        {"nospec.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\n"},
        ("api/rules-or-default-backend", "nospec.yaml", 1),
    ),
    "neither-rules-nor-default": (
        {
            "empty-spec.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\nspec:\n  ingressClassName: gitops-ingress\n"
        },
        ("api/rules-or-default-backend", "empty-spec.yaml", 5),
    ),
    "path-without-slash": ({"a.yaml": ingress(path="api")}, ("api/path-invalid", "a.yaml", 12)),
    "path-with-dotdot": ({"a.yaml": ingress(path="/a/../b")}, ("api/path-invalid", "a.yaml", 12)),
    "missing-path-type": (
        {"a.yaml": ingress().replace("            pathType: Prefix\n", "")},
        ("api/path-type-required", "a.yaml", 12),
    ),
    "unknown-path-type": ({"a.yaml": ingress(path_type="Regex")}, ("api/path-type-unsupported", "a.yaml", 13)),
    "uppercase-host": ({"a.yaml": ingress(host="Shop.example.com")}, ("api/host-invalid", "a.yaml", 9)),
    "ip-host": ({"a.yaml": ingress(host="10.0.0.1")}, ("api/host-ip", "a.yaml", 9)),
    "wildcard-in-middle": ({"a.yaml": ingress(host="foo.*.com")}, ("api/host-invalid", "a.yaml", 9)),
    "service-and-resource": (
        {
            "a.yaml": ingress().replace(
                "            backend:\n",
                "            backend:\n              resource:\n                kind: Bucket\n                name: b\n",
            )
        },
        ("api/backend-both", "a.yaml", 14),
    ),
    "port-name-and-number": (
        {"a.yaml": ingress().replace("number: 80", "number: 80\n                  name: http")},
        ("api/port-both", "a.yaml", 14),
    ),
    "port-70000": ({"a.yaml": ingress(port="70000")}, ("api/port-number-invalid", "a.yaml", 18)),
    "service-name-underscore": ({"a.yaml": ingress(service="web_app")}, ("api/service-name-invalid", "a.yaml", 16)),
    "same-host-path-type-in-two-files": (
        {"a.yaml": ingress(name="one"), "b.yaml": ingress(name="two")},
        ("cross/path-conflict", "b.yaml", 12),
    ),
    "two-default-backends": (
        {
            "d1.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: d1\nspec:\n  defaultBackend:\n    service:\n      name: a\n      port:\n        number: 80\n",
            "d2.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: d2\nspec:\n  defaultBackend:\n    service:\n      name: b\n      port:\n        number: 80\n",
        },
        ("cross/default-backend", "d2.yaml", 6),
    ),
    "configuration-snippet": (
        {
            "a.yaml": ingress().replace(
                "  namespace: shop\n",
                "  namespace: shop\n  annotations:\n    nginx.ingress.kubernetes.io/configuration-snippet: 'more_set_headers \"x: y\";'\n",
            )
        },
        ("policy/denied-annotation", "a.yaml", 7),
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
    write(tmp_path, {"empty.yaml": "", "a.yaml": ingress()})
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "environments", "--format", "json")
    assert result.code == 0, result.out
    assert not [f for f in result.json()["findings"] if f["file"].endswith("empty.yaml")]


def test_folder_without_yaml_gets_a_clear_message(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_text("nothing here")
    result = cli("validate", str(tmp_path))
    assert result.code == 1
    assert "config/no-yaml" in result.out and "no Ingress YAML files" in result.out


def test_missing_path_is_a_failure_not_a_finding(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(tmp_path / "nope"))
    assert result.code == 2 and "no such file or folder" in result.err
