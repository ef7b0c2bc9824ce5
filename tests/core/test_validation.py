"""Per-object checks: schema, kinds, and the API server's Ingress rules with its wording."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.models import dump_manifest
from gitops_ingress.core.objects import ParsedFile, parse_file
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation import validate_manifest
from tests.support.manifests import (
    BACKEND,
    HOST,
    PATH_ENTRY,
    SERVICE,
    Obj,
    column_of,
    drop,
    ingress,
    line_of,
    service,
    set_at,
    to_yaml,
)

PATH = "environments/prod/shop/web.yaml"
SETTINGS = Settings()
RULE_ID = re.compile(r"^[a-z]+/[a-z0-9-]+$")


def parse(source: Obj | str | bytes, settings: Settings = SETTINGS) -> ParsedFile:
    text = to_yaml(source) if isinstance(source, dict) else source
    return parse_file(PATH, text.encode() if isinstance(text, str) else text, "prod", settings)


def errors(source: Obj | str | bytes, settings: Settings = SETTINGS):
    return [f for f in parse(source, settings).findings if f.severity is Severity.ERROR]


def one(source: Obj | str | bytes, rule: str, settings: Settings = SETTINGS, severity: Severity = Severity.ERROR):
    parsed = parse(source, settings)
    found = [f for f in parsed.findings if f.rule == rule]
    assert len(found) == 1, parsed.findings
    assert found[0].file == PATH
    assert found[0].severity is severity
    return found[0]


def line(obj: Obj, prefix: str) -> int:
    """The line of ``prefix`` in the text ``parse`` reads for ``obj``."""
    return line_of(to_yaml(obj), prefix)


def test_valid_ingress_has_no_findings_and_gets_namespace_and_positions():
    parsed = parse(ingress())
    assert parsed.findings == ()
    (item,) = parsed.ingresses
    assert item.key == "shop/web"
    assert item.environment == "prod"
    assert item.position("spec", "rules", 0, "host").line == line(ingress(), "host:")


def test_namespace_defaults_from_settings():
    settings = Settings.build({"namespaces": {"defaults": {"prod": "shop-prod"}}})
    (item,) = parse(drop(ingress(), "metadata.namespace"), settings).ingresses
    assert item.namespace == "shop-prod"
    (item,) = parse(drop(ingress(), "metadata.namespace")).ingresses
    assert item.namespace == "default"


def test_kind_ingress_without_spec():
    finding = one(drop(ingress("a"), "spec"), "api/rules-or-default-backend")
    assert finding.line == 1  # the object itself
    assert finding.message == (
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
    )


def test_neither_rules_nor_default_backend():
    obj = set_at(drop(ingress("a"), "spec.rules"), "spec.tls", [])
    assert one(obj, "api/rules-or-default-backend").line == line(obj, "spec:")


def test_path_without_leading_slash():
    finding = one(ingress(path="api"), "api/path-invalid")
    assert finding.line == line(ingress(), "path:")
    assert finding.message == 'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path'
    assert finding.field == "spec.rules[0].http.paths[0].path"
    assert finding.object == "shop/web"
    assert finding.hint


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/a/../b", "must not contain '/../'"),
        ("/a//b", "must not contain '//'"),
        ("/a/./b", "must not contain '/./'"),
        ("/a%2fb", "must not contain '%2f'"),
        ("/a/..", "cannot end with '/..'"),
        ("/a/.", "cannot end with '/.'"),
    ],
)
def test_path_sequences_the_api_server_rejects(path, detail):
    finding = one(ingress(path=path), "api/path-invalid")
    assert finding.message.endswith(detail)
    assert finding.line == line(ingress(path=path), "path:")


def test_implementation_specific_path_may_be_empty_but_not_relative():
    path_line = line(ingress(), "path:")
    assert errors(ingress(path="", path_type="ImplementationSpecific")) == []
    assert one(ingress(path="x", path_type="ImplementationSpecific"), "api/path-invalid").line == path_line
    assert one(ingress(path="", path_type="Exact"), "api/path-invalid").line == path_line


def test_missing_path_type():
    obj = drop(ingress(), f"{PATH_ENTRY}.pathType")
    finding = one(obj, "api/path-type-required")
    assert finding.message == "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
    assert finding.line == line(obj, "path:")  # the path entry, since the field itself is absent


def test_unknown_path_type():
    finding = one(ingress(path_type="prefix"), "api/path-type-unsupported")
    assert finding.line == line(ingress(), "pathType:")
    assert finding.message.endswith(
        'Unsupported value: "prefix": supported values: "Exact", "ImplementationSpecific", "Prefix"'
    )


def test_uppercase_host():
    finding = one(ingress(host="Foo.com"), "api/host-invalid")
    text = to_yaml(ingress(host="Foo.com"))
    assert (finding.line, finding.column) == (line_of(text, "host:"), column_of(text, "host:"))
    assert finding.message.startswith(
        'spec.rules[0].host: Invalid value: "Foo.com": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert "lowercase" in finding.hint


def test_ip_as_host():
    finding = one(ingress(host="10.0.0.1"), "api/host-ip")
    assert finding.message == 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    assert finding.line == line(ingress(), "host:")


@pytest.mark.parametrize("host", ["foo.*.com", "*.*.a.com", "*", "f*.a.com"])
def test_bad_wildcards(host):
    finding = one(ingress(host=host), "api/host-invalid")
    assert "a wildcard DNS-1123 subdomain must start with '*.'" in finding.message
    assert finding.line == line(ingress(host=host), "host:")


@pytest.mark.parametrize("host", ["*.com", "*.example.com", "a-b.example.com"])
def test_good_hosts(host):
    assert errors(ingress(host=host)) == []


def test_backend_with_both_service_and_resource():
    obj = set_at(ingress(), f"{BACKEND}.resource", {"kind": "Bucket", "name": "b"})
    finding = one(obj, "api/backend-both")
    assert finding.message == (
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends'
    )
    assert finding.line == line(obj, "backend:")


def test_backend_with_neither():
    obj = set_at(ingress(), BACKEND, {})
    assert one(obj, "api/backend-required").line == line(obj, "backend:")


def test_port_with_both_name_and_number():
    finding = one(set_at(ingress(), f"{SERVICE}.port.name", "http"), "api/port-both")
    assert finding.message.endswith("cannot set both port name & port number")


def test_port_70000():
    finding = one(ingress(port=70000), "api/port-number-invalid")
    assert finding.message == (
        "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive"
    )
    assert finding.line == line(ingress(port=70000), "number:")


def test_port_zero_counts_as_unset():
    finding = one(ingress(port=0), "api/port-required")
    assert finding.message.endswith("Required value: port name or number is required")


def test_bad_port_name():
    finding = one(ingress(port="web_http"), "api/port-name-invalid")
    assert finding.message.endswith("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")


def test_service_name_with_underscore():
    finding = one(ingress(service="my_web"), "api/service-name-invalid")
    assert finding.line == line(ingress(service="my_web"), "name: my_web")
    assert "a lowercase RFC 1123 label must consist of" in finding.message
    assert "(e.g. 'my-name',  or '123-abc', regex" in finding.message


def test_service_name_starting_with_a_digit_depends_on_strictness():
    obj = ingress(service="1web")
    assert errors(obj) == []
    strict = Settings.build({"validation": {"strict_service_names": True}})
    finding = one(obj, "api/service-name-invalid", strict)
    assert "a DNS-1035 label must consist of lower case alphanumeric characters" in finding.message


def test_resource_backend_rules():
    def resource(**fields: str) -> Obj:
        return set_at(ingress(), BACKEND, {"resource": fields})

    finding = one(resource(kind="Bucket", name="a/b"), "api/resource-invalid")
    assert finding.message.endswith("may not contain '/'")
    assert one(resource(name="b"), "api/resource-required").message.endswith("kind is required")
    assert errors(resource(apiGroup="k8s.example.com", kind="Bucket", name="b")) == []


def test_tls_hosts_and_secret():
    obj = set_at(ingress(), "spec.tls", [{"hosts": ["10.0.0.1", "Bad.com"], "secretName": "My_Secret"}])
    parsed = parse(obj)
    rules = sorted(f.rule for f in parsed.findings if f.severity is Severity.ERROR)
    assert rules == ["api/tls-host-invalid", "api/tls-secret-name-invalid"]  # an IP is fine in TLS
    by_rule = {f.rule: f.line for f in parsed.findings if f.rule.startswith("api/tls")}
    assert by_rule == {
        "api/tls-host-invalid": line(obj, "Bad.com"),
        "api/tls-secret-name-invalid": line(obj, "secretName:"),
    }


def test_metadata_rules():
    assert one(ingress(name="Web"), "api/name-invalid").line == line(ingress(), "name:")
    assert one(ingress(namespace="a.b"), "api/namespace-invalid").line == line(ingress(), "namespace:")
    nameless = drop(ingress(namespace="a"), "metadata.name")
    assert (
        one(nameless, "api/name-required").message == "metadata.name: Required value: name or generateName is required"
    )
    bad_key = ingress(annotations={"a/b/c": "x"})
    assert one(bad_key, "api/annotation-invalid").line == line(bad_key, "a/b/c:")


def test_class_name_and_annotation_must_agree():
    obj = ingress(ingress_class="gitops-ingress", annotations={"kubernetes.io/ingress.class": "nginx"})
    finding = one(obj, "api/ingress-class-mismatch")
    assert finding.message == (
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match `ingressClassName` when both '
        "are specified"
    )
    assert finding.line == line(obj, "kubernetes.io/ingress.class:")
    bad = ingress(ingress_class="Bad_Class")
    assert one(bad, "api/ingress-class-name-invalid").line == line(bad, "ingressClassName:")


def test_nginx_deep_inspection_and_path_charset():
    assert one(ingress(path="/etc/passwd"), "nginx/deep-inspection").line == line(ingress(), "path:")
    assert one(ingress(host="x_by_lua.example.com"), "nginx/deep-inspection").line == line(ingress(), "host:")
    warning = one(ingress(path="/api/(.*)"), "nginx/path-charset", severity=Severity.WARNING)
    assert warning.message == "ingress contains invalid paths: path /api/(.*) cannot be used with pathType Prefix"
    off = Settings.build({"validation": {"strict_path_charset": False}})
    assert parse(ingress(path="/api/(.*)"), off).findings == ()


def test_type_errors_are_mapped_to_the_field():
    quoted = set_at(ingress(), f"{SERVICE}.port.number", "80")
    finding = one(quoted, "schema/type")
    assert finding.line == line(quoted, "number:")
    assert finding.message.endswith("Invalid type: expected integer, got string")
    assert parse(quoted).ingresses == ()
    numbered = set_at(ingress(), "metadata.name", 12)
    assert one(numbered, "schema/type").line == line(numbered, "name:")


def test_unknown_fields_follow_the_setting():
    obj = set_at(ingress(), "spec.rules.0.htp", 1)
    finding = one(obj, "schema/unknown-field")  # an error by default, as kubectl's strict validation
    assert finding.line == line(obj, "htp:") and finding.message == 'spec.rules[0].htp: unknown field "htp"'
    lenient = Settings.build({"validation": {"unknown_fields": "warning"}})
    assert one(obj, "schema/unknown-field", lenient, Severity.WARNING).severity is Severity.WARNING
    ignore = Settings.build({"validation": {"unknown_fields": "ignore"}})
    assert parse(obj, ignore).findings == ()
    known = set_at(set_at(ingress(labels={"a": "b"}), "metadata.uid", "x"), "metadata.generation", 3)
    assert parse(known).findings == ()


def test_null_fields_count_as_unset():
    assert parse(set_at(set_at(ingress(), "spec.tls", None), "spec.defaultBackend", None)).findings == ()


def test_extensions_v1beta1_ingress():
    obj = set_at(ingress(), "apiVersion", "extensions/v1beta1")
    finding = one(obj, "schema/api-version")
    assert "networking.k8s.io/v1" in finding.message and finding.line == line(obj, "apiVersion:")
    assert parse(obj).ingresses == ()


def test_other_kinds_follow_the_setting():
    other = service("web")
    text = to_yaml(ingress(), other)
    parsed = parse(text)
    (finding,) = parsed.findings
    assert (finding.rule, finding.severity, finding.line) == (
        "schema/other-kind",
        Severity.WARNING,
        line_of(text, "kind: Service"),
    )
    assert len(parsed.ingresses) == 1
    as_error = Settings.build({"validation": {"other_kinds": "error"}})
    assert one(other, "schema/other-kind", as_error).severity is Severity.ERROR
    assert parse(other, Settings.build({"validation": {"other_kinds": "ignore"}})).findings == ()


def test_missing_kind_and_api_version():
    finding = one(drop(drop(ingress(), "kind"), "apiVersion"), "schema/kind")
    assert "apiVersion and kind not set" in finding.message


def test_ingress_class_is_parsed_and_validated():
    good = (
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: gitops-ingress\nspec:\n"
        "  controller: example.com/gitops-ingress\n"
    )
    parsed = parse(good)
    assert parsed.findings == () and len(parsed.classes) == 1
    assert one(good.replace("example.com/gitops-ingress", "gitops"), "api/controller-invalid").line == 6
    assert one(
        good.replace("  controller: example.com/gitops-ingress\n", "  controller: ''\n"),
        "api/controller-required",
    )
    params = good + "  parameters:\n    kind: Params\n    name: p\n    scope: Namespace\n"
    assert one(params, "api/parameters-namespace").message.endswith("`parameters.scope` is set to 'Namespace'")
    assert parse(params + "    namespace: ops\n").findings == ()
    cluster = good + "  parameters:\n    kind: Params\n    name: p\n    namespace: ops\n"
    assert "Forbidden" in one(cluster, "api/parameters-namespace").message
    assert one(good + "  parameters:\n    kind: P\n    name: p\n    scope: Global\n", "api/parameters-scope")


def test_loader_findings_come_through_parse_file():
    assert one(b"a: 1\na: 2\n", "yaml/duplicate-key").line == 2


def test_validate_manifest_has_no_positions_and_does_not_touch_its_input():
    manifest = set_at(ingress(host="Foo.com"), "spec.tls", None)
    (finding,) = validate_manifest(manifest)
    assert (finding.rule, finding.file, finding.line, finding.field) == (
        "api/host-invalid",
        "<request>",
        0,
        "spec.rules[0].host",
    )
    assert manifest == set_at(ingress(host="Foo.com"), "spec.tls", None)
    assert validate_manifest(set_at(manifest, HOST, "foo.com")) == []
    digit = set_at(set_at(manifest, HOST, "foo.com"), f"{SERVICE}.name", "1web")
    assert validate_manifest(digit) == []
    assert validate_manifest(digit, strict_service_names=True)[0].rule == "api/service-name-invalid"
    assert validate_manifest({"spec": {"rules": "x"}})[0].rule == "schema/type"


# -- bad input of any shape: reported as findings that name the file and a rule, never raised --


def reported(data: bytes) -> ParsedFile:
    """``parse`` of ``data``, checking what every finding must carry."""
    parsed = parse(data)
    for finding in parsed.findings:
        assert finding.file == PATH and RULE_ID.match(finding.rule) and finding.message, finding
        assert finding.line >= 0, finding
    return parsed


def routes_of(obj: dict[str, Any]) -> list[tuple[Any, list[tuple[Any, Any]]]]:
    """(host, [(path, pathType)]) per rule, of an Ingress as PyYAML reads it or as the model dumps it."""
    rules = (obj.get("spec") or {}).get("rules") or []
    return [
        (rule.get("host"), [(p.get("path"), p.get("pathType")) for p in (rule.get("http") or {}).get("paths") or []])
        for rule in rules
    ]


@settings(max_examples=150, deadline=None)
@example(b"! >#")  # libyaml reads it as an empty document, the pure-Python scanner refuses it
@given(st.binary(max_size=300) | st.text(alphabet="ab:- \n\t[]{}#&*!|>'\"0123456789.", max_size=200).map(str.encode))
def test_garbage_is_reported_and_never_taken_for_an_object(data):
    parsed = reported(data)
    assert parsed.ingresses == () and parsed.classes == ()
    if not parsed.findings:  # accepted silently: then there was nothing in it
        # read by the loader the product reads with (libyaml's where installed): the pure-Python
        # scanner refuses inputs libyaml takes as empty, such as `! >#`
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        assert all(document is None for document in yaml.load_all(data, Loader=loader)), data


MUTATED = set_at(ingress(), "spec.tls", [{"hosts": ["a.example.com"], "secretName": "s"}])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_mutated_ingress_is_reported_or_read_as_pyyaml_reads_it(data):
    text = to_yaml(MUTATED)
    at = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(["", ":", "- ", "  ", "\n", "{", "[", "null", "7", '"', "x: 1\n"]))
    cut = data.draw(st.integers(0, 5))
    mutated = text[:at] + junk + text[at + cut :]
    parsed = reported(mutated.encode())
    if mutated == text:
        assert parsed.findings == () and len(parsed.ingresses) == 1
    if not parsed.findings:  # accepted silently: then it must mean what it says
        documents = [document for document in yaml.safe_load_all(mutated) if document is not None]
        assert len(documents) == len(parsed.ingresses), mutated
        for document, item in zip(documents, parsed.ingresses, strict=True):
            assert routes_of(dump_manifest(item.ingress)) == routes_of(document), mutated
