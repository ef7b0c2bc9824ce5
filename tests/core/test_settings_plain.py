"""Plain settings layers are built without pydantic exactly as pydantic's models build them.

``core.settings.settings_of`` builds a layer whose every key is known and every value exactly of
its field's type itself, and hands anything else to core/settings_schema.py. Held here, over
generated layers of right, wrong and borderline values (bools for ints, ints for floats, numeric
strings, nulls, unknown keys, bounds): whenever the plain path answers, pydantic accepts the same
layer and gives the same settings, types included; and ``settings_of`` answers as pydantic does
for every layer, problems included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core import settings as settings_module
from gitops_ingress.core.settings import Settings, settings_of
from gitops_ingress.core.settings_schema import settings_from

ODD = [True, False, 0, 1, -3, 2**60, 1.5, 3.0, float("inf"), "", "5", "a", "warning", "nope", None, [], ["a"]]
ODD += [["a", 1], ("a", "b"), {}, {"a": "b"}, {"a": ["x"]}, {"a": 1}, {1: "b"}, {"a": None}]
BY_TYPE: dict[str, list[Any]] = {
    "str": ["x", "main", "{namespace}-{branch}", ""],
    "bool": [True, False],
    "int": [0, 1, 5, 3600, -1],
    "float": [0.5, 60.0, 3600, 0, -2.5],
    "Severity3": ["warning", "error", "ignore"],
    "tuple[str, ...]": [[], ["*"], ["a", "b"], ("a",)],
    "dict[str, str]": [{}, {"prod": "shop"}],
    "dict[str, tuple[str, ...]]": [{}, {"prod": [".example.com"]}, {"a": ("b", "c")}],
}


@st.composite
def layers(draw: st.DrawFn, cls: type[Any] = Settings) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    fields = dataclasses.fields(cls)
    for item in draw(st.lists(st.sampled_from(fields), max_size=4, unique_by=lambda field: field.name)):
        factory = item.default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory) and draw(st.integers(0, 4)):
            layer[item.name] = draw(layers(factory))
        elif draw(st.integers(0, 3)):
            layer[item.name] = draw(st.sampled_from(BY_TYPE.get(str(item.type), ODD)))
        else:
            layer[item.name] = draw(st.sampled_from(ODD))
    if not draw(st.integers(0, 9)):
        layer[draw(st.sampled_from(["no_such_key", "polcy", "1"]))] = draw(st.sampled_from(ODD))
    return layer


def same(left: Any, right: Any) -> bool:
    """Equal and of the same types all the way down (``1 == 1.0 == True`` does not count)."""
    if type(left) is not type(right):
        return False
    if dataclasses.is_dataclass(left):
        return all(same(getattr(left, f.name), getattr(right, f.name)) for f in dataclasses.fields(left))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right) or (left != left and right != right)  # nan


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(layers())
def test_the_plain_path_answers_only_as_pydantic_does(layer: dict[str, Any]) -> None:
    plain = settings_module._plain(Settings, layer)
    expected, problems = settings_from(layer)
    if plain is not None:
        assert problems == [] and expected is not None and same(plain, expected), (layer, plain, expected)
    answer, answer_problems = settings_of(layer)
    assert answer_problems == problems
    assert (answer is None) is (expected is None) and (answer is None or same(answer, expected))


@pytest.mark.parametrize(
    "layer",
    [
        {"policy": {"limits": {"render_timeout_seconds": 3600}}},  # the bench's kustomize layout
        {"policy": {"denied_annotations": ["a", "b"], "allowed_host_suffixes": {"prod": [".example.com"]}}},
        {"namespaces": {"defaults": {"prod": "shop"}}, "validation": {"unknown_fields": "warning"}},
        {"branches": {"include": ["*"], "stable": "trunk"}, "poll_interval": 5},
    ],
)
def test_a_plain_layer_is_built_without_pydantic(layer: dict[str, Any]) -> None:
    plain = settings_module._plain(Settings, layer)
    assert plain is not None and same(plain, settings_from(layer)[0])


@pytest.mark.parametrize(
    "layer",
    [
        {"max_previews": 3},  # an Annotated bound: pydantic checks it
        {"policy": {"limits": {"max_files": True}}},  # pydantic makes a bool an int
        {"policy": {"limits": {"max_files": 5.0}}},
        {"poll_interval": "5"},
        {"poll_interval": 2**60},  # past what a float holds exactly
        {"validation": {"other_kinds": "nope"}},
        {"policy": None},
        {"policy": {"denied_annotations": ["a", 1]}},
        {"polcy": {}},
    ],
)
def test_anything_but_a_plain_value_steps_aside_to_pydantic(layer: dict[str, Any]) -> None:
    assert settings_module._plain(Settings, layer) is None
    answer, problems = settings_of(layer)
    expected, expected_problems = settings_from(layer)
    assert problems == expected_problems and (answer is None or same(answer, expected))
