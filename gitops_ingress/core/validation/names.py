"""Name rules of the Kubernetes API server (apimachinery ``util/validation``), with its wording.

Each ``is_*`` function returns the list of messages the API server would produce for the value
(empty when it is valid), so callers can emit one finding per message exactly as ``kubectl`` shows
them. The wording, including its odd double space in ``(e.g. 'my-name',  or ...``, is kept because
users search for these messages; the regular expressions are the published ones.

Each check remembers the values it found valid (``_remembered``; a pattern check does it in its
own call, ``_pattern_check``): a repository repeats the same namespaces, classes, Service names,
hosts (a rule's and its TLS entry's), label and annotation keys and port names thousands of times,
and each check is a pure function of its argument, so a value once found valid is valid. A set
lookup costs a twentieth of the expressions here, so remembering pays even where most values are
distinct, as names are. Each check has its own memo (``a.b`` is a subdomain, not a label), and
invalid values are checked again each time: they are rare, and
their messages are made fresh for each finding.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
WILDCARD_SUBDOMAIN_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"

_DNS1123_LABEL = re.compile(DNS1123_LABEL_FMT + r"\Z")
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_FMT + r"\Z")
_DNS1035_LABEL = re.compile(DNS1035_LABEL_FMT + r"\Z")
_WILDCARD_SUBDOMAIN = re.compile(WILDCARD_SUBDOMAIN_FMT + r"\Z")
_QUALIFIED_NAME = re.compile(QUALIFIED_NAME_FMT + r"\Z")
_LABEL_VALUE = re.compile(LABEL_VALUE_FMT + r"\Z")
_HTTP_PATH = re.compile(HTTP_PATH_FMT + r"\Z")
_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+\Z")
_PORT_NAME_LETTER = re.compile(r".*[a-z]", re.S)
_IPV4_SLOPPY = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z")

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
PORT_NAME_MAX = 15
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's ``RegexError``: the message, the examples and the expression."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    text = message + " (e.g. "
    for index, example in enumerate(examples):
        if index:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


SUBDOMAIN_ERROR = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character",
    DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
LABEL_ERROR = regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    DNS1123_LABEL_FMT,
    "my-name",
    "123-abc",
)
DNS1035_ERROR = regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character",
    DNS1035_LABEL_FMT,
    "my-name",
    "abc-123",
)
WILDCARD_ERROR = regex_error(
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
    "character",
    WILDCARD_SUBDOMAIN_FMT,
    "*.example.com",
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
QUALIFIED_NAME_ERROR = regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
LABEL_VALUE_ERROR = regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character",
    LABEL_VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)


# Valid values remembered per check: far more than the distinct keys, namespaces or classes of a
# large repository; a full memo is emptied, so memory stays bounded whatever the input.
_MEMO_SIZE = 4096


def _remembered(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """``check``, remembering the values it found valid (in its ``valid`` set); every call still
    gets its own list."""
    valid: set[str] = set()

    @functools.wraps(check)
    def remembered(value: str) -> list[str]:
        if value in valid:
            return []
        errors = check(value)
        if not errors:
            if len(valid) >= _MEMO_SIZE:
                valid.clear()
            valid.add(value)
        return errors

    remembered.valid = valid  # type: ignore[attr-defined]
    return remembered


def _pattern_check(name: str, max_length: int, pattern: re.Pattern[str], error: str) -> Callable[[str], list[str]]:
    """The check that a value has at most ``max_length`` characters and matches ``pattern`` (the
    messages: the length's, then ``error``), remembering the values it found valid like
    ``_remembered``, in one call: most names are new, and a wrapper around the check cost them a
    call or two more each."""
    valid: set[str] = set()
    match = pattern.match

    def check(value: str) -> list[str]:
        if value in valid:
            return []
        if len(value) <= max_length and match(value) is not None:
            if len(valid) >= _MEMO_SIZE:
                valid.clear()
            valid.add(value)
            return []
        errors = []
        if len(value) > max_length:
            errors.append(max_len_error(max_length))
        if not match(value):
            errors.append(error)
        return errors

    check.__name__ = check.__qualname__ = name
    check.valid = valid  # type: ignore[attr-defined]
    return check


is_dns1123_subdomain = _pattern_check(
    "is_dns1123_subdomain", DNS1123_SUBDOMAIN_MAX, _DNS1123_SUBDOMAIN, SUBDOMAIN_ERROR
)
is_dns1123_label = _pattern_check("is_dns1123_label", DNS1123_LABEL_MAX, _DNS1123_LABEL, LABEL_ERROR)
is_dns1035_label = _pattern_check("is_dns1035_label", DNS1123_LABEL_MAX, _DNS1035_LABEL, DNS1035_ERROR)
is_wildcard_dns1123_subdomain = _pattern_check(
    "is_wildcard_dns1123_subdomain", DNS1123_SUBDOMAIN_MAX, _WILDCARD_SUBDOMAIN, WILDCARD_ERROR
)


def is_ip(value: str) -> bool:
    """Go's ``ParseIPSloppy``: IPv4 with leading zeros allowed, or an IPv6 literal without zone."""
    match = _IPV4_SLOPPY.match(value)
    if match:
        return all(int(part) <= 255 for part in match.groups())
    if ":" not in value or "%" in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


@_remembered
def is_valid_port_name(value: str) -> list[str]:
    errors = []
    if len(value) > PORT_NAME_MAX:
        errors.append(max_len_error(PORT_NAME_MAX))
    if not _PORT_NAME_CHARSET.match(value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.match(value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def is_valid_port_num(value: int) -> list[str]:
    if 1 <= value <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_path_segment_name(value: str) -> list[str]:
    """apiserver's ``IsValidPathSegmentName`` (resource backend kind and name)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


@_remembered
def is_qualified_name(value: str) -> list[str]:
    """A label or annotation key: ``[prefix/]name``."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + QUALIFIED_NAME_ERROR
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errors.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not _QUALIFIED_NAME.match(name):
        errors.append("name part " + QUALIFIED_NAME_ERROR)
    return errors


is_label_value = _pattern_check("is_label_value", LABEL_VALUE_MAX, _LABEL_VALUE, LABEL_VALUE_ERROR)


def domain_prefixed_path_errors(value: str) -> list[tuple[str, str]]:
    """``IsDomainPrefixedPath`` as (bad value, message) pairs; the value itself must be non-empty."""
    host, sep, path = value.partition("/")
    if not sep or not host or not path:
        return [(value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errors = [(host, msg) for msg in is_dns1123_subdomain(host)]
    if not _HTTP_PATH.match(path):
        errors.append((path, regex_error("Invalid path", HTTP_PATH_FMT)))
    return errors
