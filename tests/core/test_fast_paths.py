"""The shortcuts that make ``validate`` fast answer exactly as the long way round.

Screens (one regex before several checks), memos (answers remembered by value) and the compact
positions of the fast YAML reader each claim to change nothing but time; these tests hold them to it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core import fastyaml, positions
from gitops_ingress.core.annotations import registry
from gitops_ingress.core.fastyaml import read_simple
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.loading import load_yaml_file
from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.settings import LimitSettings, Settings, ValidationSettings
from gitops_ingress.core.validation import api, names, nginx, validate_environment
from tests.support.manifests import ingress, line_of, set_at, to_yaml

LIMITS = LimitSettings()
PATH = "environments/prod/shop/web.yaml"

# Values that each deep-inspection pattern of ingress-nginx rejects, by pattern.
DANGEROUS = {
    r"(?s)\s*alias\s*.*;": ["/x alias /etc/;", "/aliasx;"],
    r"(?s)\s*root\s*.*;": ["/x root /;", "/root;"],
    r"/etc/(passwd|shadow|group|nginx|ingress-controller)": [
        "/etc/passwd",
        "/a/etc/shadow",
        "/etc/group",
        "/etc/nginx/nginx.conf",
        "/etc/ingress-controller",
    ],
    r"/var/run/secrets": ["/var/run/secrets/kubernetes.io"],
    r".*_by_lua.*": ["/x_by_lua_block", "/content_by_lua"],
}


def test_every_deep_inspection_pattern_has_samples_here():
    assert set(DANGEROUS) == {pattern.pattern for pattern in nginx._FORBIDDEN}


@pytest.mark.parametrize(
    ("pattern", "value"), [(pattern, value) for pattern, values in DANGEROUS.items() for value in values]
)
def test_the_screen_lets_every_dangerous_value_through_to_its_pattern(pattern, value):
    text = to_yaml(ingress(path=value))
    parsed = parse_file(PATH, text.encode(), "prod", Settings())
    (finding,) = [f for f in parsed.findings if f.rule == "nginx/deep-inspection"]
    assert finding.line == line_of(text, "path:") and finding.message == f"invalid value found: {value}"
    assert finding.hint == f"ingress-nginx rejects values matching {pattern!r} (nginx config injection)"


FRAGMENTS = [
    "alias",
    "root",
    "/etc/",
    "passwd",
    "nginx",
    "/var/run/",
    "secrets",
    "_by_lua",
    ";",
    " ",
    "\n",
    "a",
    "/",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text("aliroetc/_;\n", max_size=3), max_size=8).map("".join))
def test_the_screen_never_hides_a_match(value):
    if any(pattern.search(value) for pattern in nginx._FORBIDDEN):
        assert nginx._SUSPECT.search(value) is not None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["/", ".", "..", "%2f", "%2F", "%2", "f", "a"]), max_size=8).map("".join))
def test_a_path_the_screen_passes_has_none_of_the_rejected_parts(value):
    if value.startswith("/") and api._ODD_PATH.search(value) is None:
        assert not any(sequence in value for sequence in api._INVALID_PATH_SEQUENCES)
        assert not value.endswith(api._INVALID_PATH_SUFFIXES)


@pytest.mark.parametrize("value", ["/a%2Fb", "/a%2fb/..", "/.", "//", "/a/./b/."])
def test_odd_paths_still_get_every_message(value):
    parsed = parse_file(PATH, to_yaml(ingress(path=value)).encode(), "prod", Settings())
    details = [f.message.rsplit(": ", 1)[1] for f in parsed.findings if f.rule == "api/path-invalid"]
    expected = [f"must not contain '{s}'" for s in api._INVALID_PATH_SEQUENCES if s in value]
    expected += [f"cannot end with '{s}'" for s in api._INVALID_PATH_SUFFIXES if value.endswith(s)]
    assert details == expected and expected


def test_remembered_name_checks_give_a_fresh_list_each_time():
    first = names.is_qualified_name("a/b/c")
    first.append("changed by a caller")
    assert names.is_qualified_name("a/b/c") == first[:-1]
    assert names.is_valid_port_name("http") == [] and names.is_valid_port_name("http") is not names.is_valid_port_name(
        "http"
    )


def test_remembered_name_checks_stay_bounded_and_right():
    for check in (names.is_qualified_name, names.is_dns1123_subdomain):
        for index in range(names._MEMO_SIZE + 10):
            assert check(f"key-{index}") == []
        assert 0 < len(check.valid) <= names._MEMO_SIZE  # type: ignore[attr-defined]
        assert check("key-1") == [] and check("key-5000") == []  # remembered or not, the same answer
    assert names.is_qualified_name("-x") == ["name part " + names.QUALIFIED_NAME_ERROR]
    assert names.is_dns1123_subdomain("-x") == [names.SUBDOMAIN_ERROR]


# (value, the checks that pass it, the checks that refuse it): each check remembers on its own
_CONTEXTS = [
    ("a.b", (names.is_dns1123_subdomain, names.is_label_value), (names.is_dns1123_label, names.is_dns1035_label)),
    ("1abc", (names.is_dns1123_label, names.is_dns1123_subdomain), (names.is_dns1035_label,)),
    ("A_b", (names.is_label_value, names.is_qualified_name), (names.is_dns1123_subdomain, names.is_dns1123_label)),
    ("*.x.io", (names.is_wildcard_dns1123_subdomain,), (names.is_dns1123_subdomain, names.is_label_value)),
    ("x.io", (names.is_dns1123_subdomain,), (names.is_wildcard_dns1123_subdomain, names.is_valid_port_name)),
]


@pytest.mark.parametrize(("value", "passing", "refusing"), _CONTEXTS)
@pytest.mark.parametrize("valid_first", [True, False])
def test_a_value_remembered_valid_by_one_check_is_still_refused_by_another(value, passing, refusing, valid_first):
    order = [*passing, *refusing] if valid_first else [*refusing, *passing]
    for _ in range(2):  # the second round answers from the memos
        for check in order:
            assert (check(value) == []) is (check in passing), (check.__name__, value)
    for check in refusing:
        assert value not in check.valid  # type: ignore[attr-defined]


def test_a_name_valid_in_one_field_is_still_reported_in_another():
    # one load, as validate reads a tree: "shop.v2" is a valid Ingress name and secret name, and
    # not a Service name (a label); "1web" is a Service name only without strict_service_names
    text = to_yaml(
        ingress(name="shop.v2", service="shop.v2", tls_secret="shop.v2"),
        ingress(name="api", host="api.example.com", service="1web"),
        ingress(name="shop.v2.b", host="b.example.com", service="shop.v2"),
    ).encode()
    shapes = fastyaml.LineShapes()
    for _ in range(2):
        found = parse_file(PATH, text, "prod", Settings(), shapes).findings
        assert [(f.rule, f.line) for f in found] == [
            ("api/service-name-invalid", line_of(text.decode(), "name: shop.v2", 2)),
            ("api/service-name-invalid", line_of(text.decode(), "name: shop.v2", 4)),
        ]
    strict = Settings(validation=ValidationSettings(strict_service_names=True))
    found = parse_file(PATH, text, "prod", strict, shapes).findings
    assert [f.rule for f in found] == ["api/service-name-invalid"] * 3
    assert "1web" in found[1].message


def full_path(text: str):
    loaded = load_yaml_file("f.yaml", text.encode(), LIMITS, fast=False)
    assert loaded.findings == ()
    return [(doc.data, dict(doc.source.marks), doc.line) for doc in loaded.documents]


def fast_path(text: str):
    read = read_simple(text, LIMITS)
    assert read is not None
    return [(value, dict(marks), line) for value, marks, line in read]


def test_line_shapes_are_bounded_and_never_share_containers():
    text = "a: {}\nb: [x, 'y']\nc:\n  - d: 1\n"
    shapes = fastyaml.LineShapes()
    first = read_simple(text, LIMITS, shapes)
    assert first is not None
    first[0][0]["a"]["added"] = 1
    first[0][0]["b"].append("z")
    again = read_simple(text, LIMITS, shapes)  # every line's shape now comes from the memo
    assert again is not None and [(v, dict(m), line) for v, m, line in again] == full_path(text)
    for index in range(fastyaml._SHAPES_MAX + 10):
        read_simple(f"k{index}: v\n", LIMITS, shapes)
    assert len(shapes.memo) <= fastyaml._SHAPES_MAX
    again = read_simple(text, LIMITS, shapes)
    assert again is not None and [(v, dict(m), line) for v, m, line in again] == full_path(text)


def test_a_load_remembers_only_the_lines_it_read():
    shapes = fastyaml.LineShapes()
    assert read_simple("a: 1\n", LIMITS, shapes) is not None
    assert read_simple("b: 2\n", LIMITS) is not None  # another load, with a memo of its own
    assert set(shapes.memo) == {"a: 1", "", "---"}  # "---" is the marker that ends the last document


def test_compact_marks_answer_as_a_dict():
    text = "a: 1\nb:\n  - x\n  -\n    c: [d, e]\n---\na: 2\n"
    for value, marks, _line in read_simple(text, LIMITS) or []:
        plain = dict(marks)
        assert len(marks) == len(plain) and list(marks) == list(plain) and marks == plain
        for path, mark in plain.items():
            assert path in marks and marks[path] == mark and marks.get(path) == mark
        assert marks.get(("missing",)) is None and marks.get(("missing",), (0, 0)) == (0, 0)
        assert ("missing",) not in marks and value is not None
        with pytest.raises(KeyError):
            marks[("missing",)]
    assert fast_path(text) == full_path(text)


def test_documents_of_one_layout_share_it_and_keep_their_own_positions():
    text = "a: 1\nb: [x]\n---\na: 2\nb: [y]\n"
    one, two = read_simple(text, LIMITS) or []
    assert one[1]._slots is two[1]._slots
    assert one[1][("b", 0)] == (2, 5) and two[1][("b", 0)] == (5, 5)


def test_a_replaced_path_trie_keeps_every_position_right():
    before = "spec:\n  rules:\n  - host: a\n"
    marks_before = read_simple(before, LIMITS)[0][1]  # type: ignore[index]
    many = "".join(f"trie{index}: v\n" for index in range(positions._MAX_NODES + 1))
    big = read_simple(many, LimitSettings(max_yaml_nodes=positions._MAX_NODES + 10))
    assert big is not None and len(big[0][1]) == positions._MAX_NODES + 2
    assert positions._node_count < positions._MAX_NODES  # the trie was replaced on the way
    after = "spec:\n  x: 1\n  rules:\n  - host: b\n"
    assert dict(marks_before) == full_path(before)[0][1]
    assert fast_path(after) == full_path(after)
    assert dict(big[0][1]) == {
        (): (1, 1),
        **{(f"trie{i}",): (i + 1, 1) for i in range(positions._MAX_NODES + 1)},
    }


def test_layouts_are_bounded():
    for index in range(positions._MAX_LAYOUTS + 10):
        read_simple(f"layout{index}: v\n", LIMITS)
    assert len(positions._layouts) <= positions._MAX_LAYOUTS


def test_a_wildcard_tls_host_is_covered_by_a_rule_host_below_it():
    text = to_yaml(set_at(ingress(), "spec.tls", [{"hosts": ["*.example.com", "*.other.com"]}]))
    parsed = parse_file("environments/prod/a.yaml", text.encode(), "prod", Settings())
    found = validate_environment(parsed.ingresses, "prod", Settings(), 1)
    unused = [f for f in found if f.rule == "cross/tls-host-unused"]
    assert [(f.message, f.severity) for f in unused] == [
        ('TLS host "*.other.com" is not served by any rule in this environment', Severity.WARNING)
    ]


_NGINX = "nginx.ingress.kubernetes.io/"


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {_NGINX + "proxy-body-size": "8m"},
        {_NGINX + "rewrite-target": "/$1"},
        {_NGINX + "rewrite-target": ""},
        {_NGINX + "use-regex": "true"},
        {_NGINX + "use-regex": "false", _NGINX + "proxy-body-size": "8m"},
        {_NGINX + "use-regex": "maybe"},
        {_NGINX + "use-regex": "false", _NGINX + "rewrite-target": "/"},
        {"example.com/rewrite-target": "/", "example.com/use-regex": "true"},
    ],
)
def test_the_regex_screen_answers_as_the_route_effects_do(annotations):
    effects = registry.effects_of(annotations)
    assert registry.makes_paths_regex(annotations) is (effects is not None and effects.regex)


@pytest.mark.parametrize(
    ("value", "reported"),
    [
        ("x" * (64 * 1024), False),  # 4 bytes a character at most: settled by counting characters
        ("é" * (70 * 1024), False),  # 140 KiB: past the characters' bound, within the limit in bytes
        ("é" * (140 * 1024), True),  # 280 KiB in UTF-8, though 140 Ki characters
        ("x" * (257 * 1024), True),
    ],
)
def test_the_annotation_size_is_counted_in_bytes_when_the_characters_do_not_settle_it(value, reported):
    parsed = parse_file(PATH, to_yaml(ingress(annotations={"a": value})).encode(), "prod", Settings())
    assert any(finding.rule == "api/annotations-too-long" for finding in parsed.findings) is reported


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_a_port_number_out_of_range_is_reported_by_the_inline_range_check(port):
    parsed = parse_file(PATH, to_yaml(ingress(port=port)).encode(), "prod", Settings())
    (finding,) = [finding for finding in parsed.findings if finding.rule == "api/port-number-invalid"]
    assert finding.message.endswith(f"Invalid value: {port}: must be between 1 and 65535, inclusive")


def test_a_pattern_check_gives_every_message_of_an_invalid_value_each_time():
    long_and_bad = "-" + "a" * 253
    for check in (names.is_dns1123_subdomain, names.is_label_value):
        first = check(long_and_bad)
        assert len(first) == 2 and first[0].startswith("must be no more than")
        assert check(long_and_bad) == first and long_and_bad not in check.valid  # type: ignore[attr-defined]
