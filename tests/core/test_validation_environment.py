"""Cross-object and policy checks over a whole environment (files parsed for real)."""

from __future__ import annotations

from gitops_ingress.core.build import EnvironmentBuild, build
from gitops_ingress.core.environments import Root
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.tree import MemoryTree
from tests.support.manifests import HOST, Obj, column_of, drop, ingress, line_of, set_at, to_yaml

SETTINGS = Settings()
A, B = "environments/prod/a.yaml", "environments/prod/b.yaml"
FALLBACK = {"service": {"name": "fallback", "port": {"number": 80}}}


def build_environment(name: str, files: dict[str, bytes], settings: Settings) -> EnvironmentBuild:
    """One environment through the pipeline: files outside an environments folder are ``name``'s."""
    return build(MemoryTree(files), settings, [Root("", "", name)]).environments[name]


def env(files: dict[str, Obj | tuple[Obj, ...]], settings: Settings = SETTINGS):
    data = {path: to_yaml(*(objs if isinstance(objs, tuple) else (objs,))).encode() for path, objs in files.items()}
    return build_environment("prod", data, settings)


def by_rule(environment, rule):
    return [f for f in environment.findings if f.rule == rule]


def classless(obj: Obj) -> Obj:
    return drop(obj, "spec.ingressClassName")


def test_same_host_path_and_type_in_two_files_is_an_error_on_the_later():
    result = env({B: ingress("web-b"), A: ingress("web-a")})
    (finding,) = by_rule(result, "cross/path-conflict")
    text = to_yaml(ingress("web-a"))  # both files have the same layout
    assert (finding.file, finding.line, finding.severity) == (B, line_of(text, "path:"), Severity.ERROR)
    assert finding.message == (
        f'host "shop.example.com" and path "/" (Prefix) is already defined in ingress shop/web-a '
        f"({A}:{line_of(text, 'path:')}:{column_of(text, 'path:')})"
    )
    assert not result.ok


def test_prefix_trailing_slash_and_implementation_specific_count_as_prefix():
    result = env({A: ingress("a", path="/api"), B: ingress("b", path="/api/", path_type="ImplementationSpecific")})
    assert len(by_rule(result, "cross/path-conflict")) == 1


def test_exact_and_prefix_on_the_same_path_coexist():
    result = env({A: ingress("a", path="/api", path_type="Exact"), B: ingress("b", path="/api")})
    assert result.findings == ()
    assert result.ok and len(result.ingresses) == 2


def test_different_hosts_or_host_less_do_not_clash():
    result = env({A: ingress("a"), B: drop(ingress("b"), HOST)})
    assert by_rule(result, "cross/path-conflict") == []
    clash = env({A: drop(ingress("a"), HOST), B: drop(ingress("b"), HOST)})
    assert 'host "_"' in by_rule(clash, "cross/path-conflict")[0].message


def test_canary_overlap_is_a_notice():
    canary = ingress("web-canary", annotations={"nginx.ingress.kubernetes.io/canary": "true"})
    result = env({A: ingress("web"), B: canary})
    (finding,) = by_rule(result, "cross/canary-overlap")
    assert finding.severity is Severity.NOTICE and finding.file == B
    assert result.ok
    both = env({A: set_at(canary, "metadata.name", "c1"), B: set_at(canary, "metadata.name", "c2")})
    assert len(by_rule(both, "cross/path-conflict")) == 1


def test_two_default_backends():
    second = set_at(ingress("b", host="other.example.com"), "spec.defaultBackend", FALLBACK)
    result = env({A: set_at(ingress("a"), "spec.defaultBackend", FALLBACK), B: second})
    (finding,) = by_rule(result, "cross/default-backend")
    assert finding.file == B and finding.line == line_of(to_yaml(second), "defaultBackend:")
    assert "shop/a" in finding.message and "shop/b" in finding.message and A in finding.message


def test_duplicate_namespace_and_name():
    result = env({A: ingress("web", host="a.example.com"), B: ingress("web", host="b.example.com")})
    (finding,) = by_rule(result, "cross/duplicate-name")
    assert finding.file == B and finding.line == line_of(to_yaml(ingress("web")), "name:") and A in finding.message


def test_tls_host_without_rule_is_a_warning():
    tls = set_at(ingress("a"), "spec.tls", [{"hosts": ["shop.example.com", "x.wild.example.com", "lost.example.com"]}])
    wildcard = ingress("w", host="*.wild.example.com")
    result = env({A: tls, B: wildcard})
    (finding,) = by_rule(result, "cross/tls-host-unused")
    assert finding.severity is Severity.WARNING and '"lost.example.com"' in finding.message
    assert finding.line == line_of(to_yaml(tls), "lost.example.com")


def test_not_our_class_is_ignored_with_a_notice():
    other = ingress("other", ingress_class="nginx")
    result = env({A: ingress("a"), B: other})
    (finding,) = by_rule(result, "cross/not-ours")
    assert finding.severity is Severity.NOTICE and "not ours, ignored" in finding.message
    annotated = classless(ingress("b", annotations={"kubernetes.io/ingress.class": "nginx"}))
    assert by_rule(env({A: ingress("a"), B: annotated}), "cross/path-conflict") == []
    no_class = Settings.build({"serve_ingresses_without_class": False})
    assert len(by_rule(env({A: classless(ingress("a"))}, no_class), "cross/not-ours")) == 1
    ours = ingress("c", ingress_class="gitops-ingress")
    assert by_rule(env({A: ours}, no_class), "cross/not-ours") == []


def test_denied_snippet_annotation():
    snippet = ingress(annotations={"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x"})
    (finding,) = by_rule(env({A: snippet}), "policy/denied-annotation")
    assert (finding.line, finding.severity) == (line_of(to_yaml(snippet), "nginx.ingress"), Severity.ERROR)
    assert "*-snippet" in finding.message


def test_host_outside_allowed_suffixes():
    settings = Settings.build({"policy": {"allowed_host_suffixes": {"prod": ["example.com"]}}})
    files = {
        A: (ingress("a"), ingress("b", host="*.example.com"), ingress("c", host="example.com")),
        B: ingress("d", host="badexample.com"),
    }
    result = env(files, settings)
    (finding,) = by_rule(result, "policy/host-not-allowed")
    assert (finding.file, finding.line, finding.severity) == (B, line_of(to_yaml(files[B]), "host:"), Severity.ERROR)
    assert by_rule(env(files), "policy/host-not-allowed") == []  # no list for the environment: any host


def test_limits():
    settings = Settings.build({"policy": {"limits": {"max_files": 1, "max_objects": 1, "max_paths_per_host": 1}}})
    files = MemoryTree({A: to_yaml(ingress("a", path="/a")).encode(), B: to_yaml(ingress("b", path="/b")).encode()})
    # each root is within max_files; the environment they make up together is not
    result = build(files, settings, [Root.at(A), Root.at(B)]).environments["prod"]
    rules = {f.rule for f in result.findings}
    assert {"policy/too-many-files", "policy/too-many-objects", "policy/too-many-paths"} <= rules
    (paths,) = by_rule(result, "policy/too-many-paths")
    assert paths.file == B and paths.line == line_of(to_yaml(ingress("b", path="/b")), "path:")


def test_hostless_rule_warns_unless_the_environment_allows_it() -> None:
    health = drop(ingress("health", service="health", path="/healthz", path_type="Exact"), HOST)
    manifest = to_yaml(health).encode()
    strict = Settings.build({"policy": {"allowed_host_suffixes": {"production": ["example.com"]}}})
    relaxed = Settings.build(
        {"policy": {"allowed_host_suffixes": {"production": ["example.com"]}, "allow_hostless_rules": ["production"]}}
    )
    warned = build_environment("production", {"h.yaml": manifest}, strict).findings
    rule_line = line_of(manifest.decode(), "http:")  # the rule that has no host
    assert [(f.rule, f.line) for f in warned if f.rule == "policy/host-not-allowed"] == [
        ("policy/host-not-allowed", rule_line)
    ]
    assert not [
        f
        for f in build_environment("production", {"h.yaml": manifest}, relaxed).findings
        if f.rule.startswith("policy/")
    ]
