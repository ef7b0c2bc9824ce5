"""Property tests of the API server's name rules."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gitops_ingress.core.validation import names

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# A DNS-1123 label: alphanumeric at both ends, '-' allowed inside.
LABEL = st.one_of(
    st.sampled_from(ALNUM),
    st.tuples(st.sampled_from(ALNUM), st.text(ALNUM + "-", max_size=20), st.sampled_from(ALNUM)).map("".join),
)
SUBDOMAIN = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@given(SUBDOMAIN)
def test_generated_subdomains_pass(host):
    assert names.is_dns1123_subdomain(host) == []
    assert names.is_wildcard_dns1123_subdomain("*." + host) == []


@given(SUBDOMAIN, st.data())
def test_any_uppercase_letter_fails(host, data):
    index = data.draw(st.integers(0, len(host) - 1))
    letter = data.draw(st.sampled_from("ABCXYZ"))
    bad = host[:index] + letter + host[index + 1 :]
    assert names.is_dns1123_subdomain(bad) == [names.SUBDOMAIN_ERROR]


@given(st.text(max_size=30))
def test_subdomain_rule_equals_the_published_regex(text):
    expected_ok = re.fullmatch(names.DNS1123_SUBDOMAIN_FMT, text) is not None and len(text) <= 253
    assert (names.is_dns1123_subdomain(text) == []) is expected_ok


@given(SUBDOMAIN)
def test_a_wildcard_in_the_middle_fails(host):
    assert names.is_wildcard_dns1123_subdomain("a.*." + host) != []
    assert names.is_wildcard_dns1123_subdomain("*.*." + host) != []


@given(LABEL)
def test_labels_starting_with_a_digit_are_dns1123_but_not_dns1035(label):
    digit_first = "1" + label[1:] if len(label) > 1 else "1"
    assert names.is_dns1123_label(digit_first) == []
    assert names.is_dns1035_label(digit_first) == [names.DNS1035_ERROR]


def test_length_limits():
    assert names.is_dns1123_label("a" * 63) == []
    assert names.is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    long_host = ".".join(["a" * 63] * 4)  # 255 characters
    assert names.is_dns1123_subdomain(long_host) == ["must be no more than 253 characters"]


@given(st.ip_addresses())
def test_ip_literals_are_recognised(address):
    assert names.is_ip(str(address))


@given(SUBDOMAIN)
def test_dns_names_are_not_ips(host):
    if not re.fullmatch(r"[0-9.]+", host):
        assert not names.is_ip(host)


def test_sloppy_ipv4_and_ports():
    assert names.is_ip("010.001.0.1")  # Go's ParseIPSloppy accepts leading zeros
    assert not names.is_ip("256.1.1.1")
    assert names.is_valid_port_name("http") == []
    assert names.is_valid_port_name("a" * 16) == ["must be no more than 15 characters"]
    assert names.is_valid_port_name("123") == ["must contain at least one letter (a-z)"]
    assert names.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert names.is_valid_port_num(65535) == []


def test_qualified_names_and_label_values():
    assert names.is_qualified_name("nginx.ingress.kubernetes.io/canary") == []
    assert names.is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert names.is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert names.is_label_value("") == []
    assert names.is_label_value("-x") == [names.LABEL_VALUE_ERROR]
