"""YAML texts for the tests that hold the fast reader to PyYAML: generated and mutated.

``documents`` builds block-style streams out of many kinds of key and scalar (mostly the ones clean
manifests are made of, so the fast reader answers often enough to be tested); ``repeated`` makes
files of documents that share their lines but for the values, some of them broken (what the
reader's shapes by prefix and its replayed layouts are for); ``trimmed`` adds what
editors add (other line ends, a BOM, trailing spaces and tabs); ``mutated`` inserts, deletes and
replaces characters, on generated texts and on real-looking manifests; ``odd_lines`` makes keys and
values up from YAML punctuation, character by character.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from bench.validate import TEMPLATE
from tests.support.manifests import drop, ingress, set_at, to_yaml

# What follows "key: " or "- " on a line, as written in a file.
SCALARS = [
    *["web", "a b", "shop.example.com", "/api/v1", "Prefix", "é", "日本", "x-y_z.1", "a'b", 'a"b', "a:b"],
    *["http://x/y", "a::b", "a#b", "a #b", "a: b", "a:", "-a", "- a", "?a", ":a", "a,b", "a]", "a}", "a?"],
    *["1", "0", "-1", "+1", "012", "0o17", "0x1F", "0b101", "1_000", "1e3", "1.5", ".5", "-.5e-3", "1:20"],
    *["1:2:3.5", ".inf", "-.Inf", ".NaN", "yes", "No", "ON", "off", "y", "n", "true", "FALSE", "True"],
    *["~", "null", "Null", "NULL", "nul", "", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-13-45"],
    *["'q'", "'it''s'", "'a: b'", "''", '"d"', '"a\\nb"', '"a\\"b"', '""', "'1'", '"yes"', "'#'", "'a'b'"],
    *["[]", "{}", "[a, b]", "['x', \"y\"]", "[ a , b ]", "[a,b]", "[1, yes, ~, 1.5]", "[a, [b]]", "[1:?]"],
    *["[a?b]", "[a:b]", "[a: b]", "[a:]", "[?a]", "[-1]", "[a #b]", "[a] # c", "[a", "[a,]", "{a: 1}"],
    *["[2001-12-14]", "[0x1F, 012]", "['it''s']", "[a b, c]", "[a, 'b', \"c\"]", "[:a]", "[a:,b]"],
    *["&anchor x", "*anchor", "!!str 1", "!!int '3'", "!foo x", "!!binary aGk=", "|", ">-", "b &c", "b *c"],
    *["x # comment", "x#c", "x  # c", "'q' # c", '"d" #c', "'q'x", '"d"x', "a\\b", "%x", "@x", "`x"],
    *["80", "http://x:8080/p", "x'y", "a  # note", '"x" # note', "080", "on", "-x", "*x", "&x", "!x", ">"],
    *['x"y', "[a]", "? x", "=", "<<", "- x", "#c", "'a", "[b:c]", "[-b]", "[?b]", "[b#c]", '"a', "a\tb"],
]
# What clean manifests are mostly made of, so that the fast reader answers often enough to be tested.
COMMON_SCALARS = ["web", "a b", "/api", "1", "8080", "yes", "~", "'q'", '"d"', "[a, b]", "{}", "x # c", "1.5", ""]
COMMON_KEYS = ["name", "a", "spec", "app.kubernetes.io/name", "x-y", '"q k"', "'s k'"]
KEYS = [
    *["name", "a", "spec", "app.kubernetes.io/name", "x-y", "_k", "k-", "a.b/c", "é", "a b", "a:b"],
    *['"q k"', "'s k'", "'a: b'", '"a\\"b"', "'it''s'", '""', "1", "yes", "on", "null", "~", "1.5"],
    *["<<", "? x", "-k", "&a k", "!!str k", "[a]", "{a}", "*a", "2001-12-14", "k ", "k#", "#k"],
]
LINE_ENDS = ["\n"] * 12 + ["\r\n", "\r", "\x85", "\u2028", "\u2029"]
NOISE = [" ", "  ", "\t", ":", "-", "#", "'", '"', "[", "]", "{", "}", ",", "?", "&", "*", "!", "|", ">"]
NOISE += ["%", "@", "`", "\n", "\r", "\r\n", "\x85", "\u2028", "\ufeff", "\x00", "\x07", "é", "0", ".", "~"]
NOISE += ["\\", "- ", ": ", "---", "...", "y", "a"]

BENCH_LIKE = TEMPLATE.format(n=1, team=1)
MANIFESTS = [
    BENCH_LIKE,
    BENCH_LIKE + "---\n" + TEMPLATE.format(n=2, team=1),
    to_yaml(ingress("web", "shop.example.com", "web", paths=["/", "/api"], tls_secret="tls")),
    to_yaml(ingress("web", "a.example.com", "web", labels={"a": "b"}, port="http")),
    to_yaml(set_at(ingress(annotations={"a": "b"}), "spec.tls", [{"hosts": ["a.example.com"]}])),
    to_yaml(drop(ingress(), "spec.rules.0.http.paths.0.path")),
]


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A block-style stream: nested mappings and lists of many kinds of scalar, with trimmings."""
    scalars = st.sampled_from(COMMON_SCALARS * 12 + SCALARS)
    width = draw(st.integers(1, 4))
    same_column_lists = draw(st.booleans())

    def mapping(pad: int, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(draw(st.integers(1, 4))):
            key = draw(st.sampled_from(COMMON_KEYS * 6 + KEYS))
            lines.extend(entry(pad, key, depth))
        return lines

    def entry(pad: int, key: str, depth: int) -> list[str]:
        kinds = ["scalar", "scalar", "map", "list", "empty"] if depth < 4 else ["scalar"]
        kind = draw(st.sampled_from(kinds))
        if kind == "scalar":
            return [f"{' ' * pad}{key}: {draw(scalars)}"]
        if kind == "empty":
            return [f"{' ' * pad}{key}:" + draw(st.sampled_from(["", " # note", "  ", " "]))]
        if kind == "map":
            return [f"{' ' * pad}{key}:", *mapping(pad + width, depth + 1)]
        return [f"{' ' * pad}{key}:", *sequence(pad if same_column_lists else pad + width, depth + 1)]

    def sequence(pad: int, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["scalar", "map", "bare", "bare-scalar"])) if depth < 4 else "scalar"
            if kind == "scalar":
                lines.append(f"{' ' * pad}- {draw(scalars)}")
            elif kind == "map":
                body = mapping(pad + 2, depth + 1)
                lines.append(f"{' ' * pad}- {body[0].lstrip()}")
                lines.extend(body[1:])
            elif kind == "bare":
                lines.append(f"{' ' * pad}-")
                lines.extend(mapping(pad + width, depth + 1))
            else:
                lines.append(f"{' ' * pad}-")
                lines.append(f"{' ' * (pad + width)}{draw(scalars)}")
        return lines

    streams: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        lines = mapping(0, 0)
        for _ in range(draw(st.integers(0, 2))):
            extra = ["", "# comment", "  # indented", "   ", "---", "--- # c", "---#", "...", "%YAML 1.1", "- x"]
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(extra)))
        streams.append("\n".join(lines))
    separator = draw(st.sampled_from(["\n---\n", "\n--- # next\n", "\n...\n---\n", "\n---\n\n"]))
    start = draw(st.sampled_from(["", "", "---\n", "# head\n---\n", "%YAML 1.1\n---\n", "--- \n"]))
    end = draw(st.sampled_from(["\n", "\n", "", "\n\n", "\n---\n", "\n...\n", "\n# tail"]))
    return start + separator.join(streams) + end


@st.composite
def trimmed(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """Other line ends, a BOM, trailing spaces or tabs: the things editors add without asking."""
    text = draw(texts)
    if draw(st.integers(0, 3)) == 0:
        ends = [draw(st.sampled_from(LINE_ENDS)) for _ in range(4)]
        pieces = text.split("\n")
        text = pieces[0] + "".join(ends[i % 4] + piece for i, piece in enumerate(pieces[1:]))
    if draw(st.integers(0, 5)) == 0:
        pieces = text.split("\n")
        at = draw(st.integers(0, len(pieces) - 1))
        pieces[at] += draw(st.sampled_from([" ", "  ", "\t", " \t", " # c"]))
        text = "\n".join(pieces)
    if draw(st.integers(0, 8)) == 0:
        text = "\ufeff" + text
    return text


@st.composite
def mutated(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """Characters inserted, deleted or replaced: the typos a hand-edited manifest picks up."""
    text = draw(texts)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        noise = draw(st.sampled_from(NOISE))
        if action == "insert":
            text = text[:at] + noise + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 3)) :]
        else:
            text = text[:at] + noise + text[at + 1 :]
    return text


# Characters that mean something somewhere in YAML, for lines made up from scratch.
PUNCTUATION = "ab1.0e_x -:?#,[]{}'\"&*!|>%@`\\~+/"


@st.composite
def odd_lines(draw: st.DrawFn) -> str:
    """A few ``key: value`` or ``- value`` lines whose key and value are made of YAML punctuation.

    The line shapes (plain, quoted, flow list) are where the reader decides most; a value made up
    character by character reaches the corners that a list of examples does not.
    """
    value = st.text(PUNCTUATION, max_size=10)
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(COMMON_KEYS) | st.text(PUNCTUATION, min_size=1, max_size=4))
        text = draw(value)
        if draw(st.booleans()):
            text = "[" + draw(value) + "]"
        lines.append(f"{key}: {text}")
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"{key}2:\n  - {draw(value)}")
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


TEXTS = st.one_of(
    odd_lines(),
    trimmed(documents()),
    mutated(trimmed(documents())),
    mutated(st.sampled_from(MANIFESTS)),
    trimmed(st.sampled_from(MANIFESTS)),
)


# A value after "key: " or "- ": what ``repeated`` replaces, keeping the rest of the line.
_VALUE = re.compile(r"^( *(?:- +)?(?:[^\s:#'\"\[\]{}-][^:#]*: +|- +))(\S.*)$")
# Plain strings keep a line's skeleton; the others change its kind, or are broken YAML.
PLAIN_VALUES = ["web", "app-7", "a b", "/api/v2", "shop-1.example.com", "é", "x_y", "Exact", "v1.2"]
# One-item flow lists: most keep a flow line's skeleton (read by its prefix), the rest step aside.
PLAIN_VALUES += ["[web]", "[app-7]", "[shop-1.example.com]", "[a b]", "[é]", "[x_y]", "[ web]", "[web] # c"]


@st.composite
def repeated(draw: st.DrawFn) -> list[str]:
    """Files of one or two layouts repeated: each document's values drawn anew, mostly plain
    strings (the same skeleton), sometimes any scalar of ``SCALARS`` (another kind, or broken)."""
    layouts = [draw(st.sampled_from([*MANIFESTS, BENCH_LIKE])) for _ in range(draw(st.integers(1, 2)))]
    layouts += [draw(documents()) for _ in range(draw(st.integers(0, 1)))]
    values = (
        st.sampled_from(PLAIN_VALUES) | st.sampled_from(SCALARS)
        if draw(st.booleans())
        else st.sampled_from(PLAIN_VALUES)
    )

    def instance(layout: str) -> str:
        lines = []
        for line in layout.split("\n"):
            match = _VALUE.match(line)
            keep = match is None or draw(st.integers(0, 2)) > 0
            lines.append(line if keep else match.group(1) + draw(values))  # type: ignore[union-attr]
        return "\n".join(lines)

    files = []
    for _ in range(draw(st.integers(1, 3))):
        documents_of_file = [instance(draw(st.sampled_from(layouts))) for _ in range(draw(st.integers(1, 6)))]
        files.append("---\n".join(text if text.endswith("\n") else text + "\n" for text in documents_of_file))
    return files
