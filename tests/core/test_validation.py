"""Per-object checks: schema, kinds, and the API server's Ingress rules with its wording."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation import validate_manifest
from tests.core.ingress_yaml import documents, ingress

PATH = "environments/prod/shop/web.yaml"
SETTINGS = Settings()
# Line numbers in the text that ingress() builds.
HOST_LINE, PATH_LINE, PATH_TYPE_LINE, BACKEND_LINE, SERVICE_NAME_LINE, PORT_LINE = 8, 11, 12, 13, 15, 17


def parse(text: str, settings: Settings = SETTINGS):
    return parse_file(PATH, text.encode() if isinstance(text, str) else text, "prod", settings)


def errors(text: str, settings: Settings = SETTINGS):
    return [f for f in parse(text, settings).findings if f.severity is Severity.ERROR]


def one(text: str, rule: str, settings: Settings = SETTINGS, severity: Severity = Severity.ERROR):
    parsed = parse(text, settings)
    found = [f for f in parsed.findings if f.rule == rule]
    assert len(found) == 1, parsed.findings
    assert found[0].file == PATH
    assert found[0].severity is severity
    return found[0]


def test_valid_ingress_has_no_findings_and_gets_namespace_and_positions():
    parsed = parse(ingress())
    assert parsed.findings == ()
    (item,) = parsed.ingresses
    assert item.key == "shop/web"
    assert item.environment == "prod"
    assert item.position("spec", "rules", 0, "host").line == HOST_LINE


def test_namespace_defaults_from_settings():
    settings = Settings.build({"namespaces": {"defaults": {"prod": "shop-prod"}}})
    (item,) = parse(ingress(namespace=None), settings).ingresses
    assert item.namespace == "shop-prod"
    (item,) = parse(ingress(namespace=None)).ingresses
    assert item.namespace == "default"


def test_kind_ingress_without_spec():
    finding = one(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: a\n",
        "api/rules-or-default-backend",
    )
    assert finding.line == 1
    assert finding.message == (
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
    )


def test_neither_rules_nor_default_backend():
    text = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: a\nspec:\n  tls: []\n"
    assert one(text, "api/rules-or-default-backend").line == 5


def test_path_without_leading_slash():
    finding = one(ingress(path="api"), "api/path-invalid")
    assert finding.line == PATH_LINE
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
    assert finding.line == PATH_LINE


def test_implementation_specific_path_may_be_empty_but_not_relative():
    assert errors(ingress(path="", path_type="ImplementationSpecific")) == []
    assert one(ingress(path="x", path_type="ImplementationSpecific"), "api/path-invalid").line == PATH_LINE
    assert one(ingress(path="", path_type="Exact"), "api/path-invalid").line == PATH_LINE


def test_missing_path_type():
    finding = one(ingress(path_type=None), "api/path-type-required")
    assert finding.message == "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
    assert finding.line == PATH_LINE  # the path entry, since the field itself is absent


def test_unknown_path_type():
    finding = one(ingress(path_type="prefix"), "api/path-type-unsupported")
    assert finding.line == PATH_TYPE_LINE
    assert finding.message.endswith(
        'Unsupported value: "prefix": supported values: "Exact", "ImplementationSpecific", "Prefix"'
    )


def test_uppercase_host():
    finding = one(ingress(host="Foo.com"), "api/host-invalid")
    assert finding.line == HOST_LINE and finding.column == 5
    assert finding.message.startswith(
        'spec.rules[0].host: Invalid value: "Foo.com": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert "lowercase" in finding.hint


def test_ip_as_host():
    finding = one(ingress(host="10.0.0.1"), "api/host-ip")
    assert finding.message == 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    assert finding.line == HOST_LINE


@pytest.mark.parametrize("host", ["foo.*.com", "*.*.a.com", "*", "f*.a.com"])
def test_bad_wildcards(host):
    finding = one(ingress(host=host), "api/host-invalid")
    assert "a wildcard DNS-1123 subdomain must start with '*.'" in finding.message
    assert finding.line == HOST_LINE


@pytest.mark.parametrize("host", ["*.com", "*.example.com", "a-b.example.com"])
def test_good_hosts(host):
    assert errors(ingress(host=host)) == []


def test_backend_with_both_service_and_resource():
    backend = "service:\n  name: web\n  port:\n    number: 80\nresource:\n  kind: Bucket\n  name: b"
    finding = one(ingress(backend=backend), "api/backend-both")
    assert finding.message == (
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends'
    )
    assert finding.line == BACKEND_LINE


def test_backend_with_neither():
    assert one(ingress(backend="{}"), "api/backend-required").line == BACKEND_LINE


def test_port_with_both_name_and_number():
    backend = "service:\n  name: web\n  port:\n    number: 80\n    name: http"
    finding = one(ingress(backend=backend), "api/port-both")
    assert finding.message.endswith("cannot set both port name & port number")


def test_port_70000():
    finding = one(ingress(backend="service:\n  name: web\n  port:\n    number: 70000"), "api/port-number-invalid")
    assert finding.message == (
        "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive"
    )
    assert finding.line == PORT_LINE


def test_port_zero_counts_as_unset():
    finding = one(ingress(backend="service:\n  name: web\n  port:\n    number: 0"), "api/port-required")
    assert finding.message.endswith("Required value: port name or number is required")


def test_bad_port_name():
    finding = one(ingress(backend="service:\n  name: web\n  port:\n    name: web_http"), "api/port-name-invalid")
    assert finding.message.endswith("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")


def test_service_name_with_underscore():
    finding = one(ingress(backend="service:\n  name: my_web\n  port:\n    number: 80"), "api/service-name-invalid")
    assert finding.line == SERVICE_NAME_LINE
    assert "a lowercase RFC 1123 label must consist of" in finding.message
    assert "(e.g. 'my-name',  or '123-abc', regex" in finding.message


def test_service_name_starting_with_a_digit_depends_on_strictness():
    text = ingress(backend="service:\n  name: 1web\n  port:\n    number: 80")
    assert errors(text) == []
    strict = Settings.build({"validation": {"strict_service_names": True}})
    finding = one(text, "api/service-name-invalid", strict)
    assert "a DNS-1035 label must consist of lower case alphanumeric characters" in finding.message


def test_resource_backend_rules():
    finding = one(ingress(backend="resource:\n  kind: Bucket\n  name: a/b"), "api/resource-invalid")
    assert finding.message.endswith("may not contain '/'")
    assert one(ingress(backend="resource:\n  name: b"), "api/resource-required").message.endswith("kind is required")
    assert errors(ingress(backend="resource:\n  apiGroup: k8s.example.com\n  kind: Bucket\n  name: b")) == []


def test_tls_hosts_and_secret():
    tls = '  tls:\n  - hosts: ["10.0.0.1", "Bad.com"]\n    secretName: My_Secret\n'
    parsed = parse(ingress(extra_spec=tls))
    rules = sorted(f.rule for f in parsed.findings if f.severity is Severity.ERROR)
    assert rules == ["api/tls-host-invalid", "api/tls-secret-name-invalid"]  # an IP is fine in TLS
    assert {f.line for f in parsed.findings if f.rule.startswith("api/tls")} == {8, 9}


def test_metadata_rules():
    assert one(ingress(name="Web"), "api/name-invalid").line == 4
    assert one(ingress(namespace="a.b"), "api/namespace-invalid").line == 5
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  namespace: a\nspec:\n  defaultBackend:\n"
        "    resource: {kind: A, name: b}\n"
    )
    assert one(text, "api/name-required").message == "metadata.name: Required value: name or generateName is required"
    bad_key = ingress(annotations={"a/b/c": "x"})
    assert one(bad_key, "api/annotation-invalid").line == 7


def test_class_name_and_annotation_must_agree():
    text = ingress(class_name="gitops-ingress", annotations={"kubernetes.io/ingress.class": "nginx"})
    finding = one(text, "api/ingress-class-mismatch")
    assert finding.message == (
        'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match `ingressClassName` when both '
        "are specified"
    )
    assert finding.line == 7
    assert one(ingress(class_name="Bad_Class"), "api/ingress-class-name-invalid").line == 7


def test_nginx_deep_inspection_and_path_charset():
    assert one(ingress(path="/etc/passwd"), "nginx/deep-inspection").line == PATH_LINE
    assert one(ingress(host="x_by_lua.example.com"), "nginx/deep-inspection").line == HOST_LINE
    warning = one(ingress(path="/api/(.*)"), "nginx/path-charset", severity=Severity.WARNING)
    assert warning.message == "ingress contains invalid paths: path /api/(.*) cannot be used with pathType Prefix"
    off = Settings.build({"validation": {"strict_path_charset": False}})
    assert parse(ingress(path="/api/(.*)"), off).findings == ()


def test_type_errors_are_mapped_to_the_field():
    finding = one(ingress(backend='service:\n  name: web\n  port:\n    number: "80"'), "schema/type")
    assert finding.line == PORT_LINE
    assert finding.message.endswith("Invalid type: expected integer, got string")
    assert parse(ingress(backend='service:\n  name: web\n  port:\n    number: "80"')).ingresses == ()
    assert one(ingress(annotations=None).replace("  name: web\n", "  name: 12\n", 1), "schema/type").line == 4


def test_unknown_fields_follow_the_setting():
    text = ingress().replace("    http:\n", "    htp: 1\n    http:\n")
    finding = one(text, "schema/unknown-field", severity=Severity.WARNING)
    assert finding.line == 9 and finding.message == 'spec.rules[0].htp: unknown field "htp"'
    strict = Settings.build({"validation": {"unknown_fields": "error"}})
    assert one(text, "schema/unknown-field", strict).severity is Severity.ERROR
    ignore = Settings.build({"validation": {"unknown_fields": "ignore"}})
    assert parse(text, ignore).findings == ()
    known = ingress().replace("  namespace: shop\n", "  namespace: shop\n  uid: x\n  labels: {a: b}\n  generation: 3\n")
    assert parse(known).findings == ()


def test_null_fields_count_as_unset():
    assert parse(ingress(extra_spec="  tls:\n  defaultBackend:\n")).findings == ()


def test_extensions_v1beta1_ingress():
    text = ingress().replace("networking.k8s.io/v1", "extensions/v1beta1")
    finding = one(text, "schema/api-version")
    assert "networking.k8s.io/v1" in finding.message and finding.line == 1
    assert parse(text).ingresses == ()


def test_other_kinds_follow_the_setting():
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
    parsed = parse(documents(ingress(), service))
    (finding,) = parsed.findings
    assert (finding.rule, finding.severity, finding.line) == ("schema/other-kind", Severity.WARNING, 20)
    assert len(parsed.ingresses) == 1
    as_error = Settings.build({"validation": {"other_kinds": "error"}})
    assert one(service, "schema/other-kind", as_error).severity is Severity.ERROR
    assert parse(service, Settings.build({"validation": {"other_kinds": "ignore"}})).findings == ()


def test_missing_kind_and_api_version():
    finding = one("metadata:\n  name: web\n", "schema/kind")
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
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "tls": None,
            "rules": [
                {
                    "host": "Foo.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    (finding,) = validate_manifest(manifest)
    assert (finding.rule, finding.file, finding.line, finding.field) == (
        "api/host-invalid",
        "<request>",
        0,
        "spec.rules[0].host",
    )
    assert manifest["spec"]["tls"] is None
    manifest["spec"]["rules"][0]["host"] = "foo.com"
    assert validate_manifest(manifest) == []
    manifest["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "1web"
    assert validate_manifest(manifest) == []
    assert validate_manifest(manifest, strict_service_names=True)[0].rule == "api/service-name-invalid"
    assert validate_manifest({"spec": {"rules": "x"}})[0].rule == "schema/type"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet="ab:- \n\t[]{}#&*!|>'\"0123456789.", max_size=200).map(str.encode))
def test_parse_file_never_raises_on_garbage(data):
    parsed = parse(data)
    assert all(f.file == PATH for f in parsed.findings)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_parse_file_never_raises_on_mutated_ingresses(data):
    text = ingress(extra_spec="  tls:\n  - hosts: [a.example.com]\n    secretName: s\n")
    at = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(["", ":", "- ", "  ", "\n", "{", "[", "null", "7", '"', "x: 1\n"]))
    cut = data.draw(st.integers(0, 5))
    parse(text[:at] + junk + text[at + cut :])
