"""What a settings layer may hold: pydantic models made from the settings dataclasses.

``core/settings.py`` keeps the settings as plain frozen dataclasses, so that a run whose layers are
all empty never imports pydantic. A non-empty layer is checked here: each dataclass gets a frozen
pydantic model with the same fields, types, defaults and ``Annotated`` bounds, unknown keys
refused, so the wording of every error (``Input should be ...``, ``Extra inputs are not
permitted``) is pydantic's for a model, as it was when the settings were pydantic models; the
validated model is then turned into the dataclasses. ``SettingsModel`` is also the base of the
``GITOPS_INGRESS_<KEY>`` variables (cli/variable_sections.py), which read the same keys.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from annotated_types import Ge, Gt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from gitops_ingress.core.settings import Settings

Problems = list[tuple[tuple[str | int, ...], str]]
# The names of the bounds in the settings' annotations, which core/settings.py does not import.
_BOUNDS = {"Ge": Ge, "Gt": Gt}


def _models(cls: type[Any], made: dict[type[Any], type[BaseModel]]) -> type[BaseModel]:
    """The model of dataclass ``cls`` (and of those its fields hold), added to ``made``."""
    if cls in made:
        return made[cls]
    hints = typing.get_type_hints(cls, localns=_BOUNDS, include_extras=True)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        hint = hints[item.name]
        if dataclasses.is_dataclass(hint):
            hint = _models(typing.cast(type[Any], hint), made)
        if item.default_factory is not dataclasses.MISSING:
            factory: Any = item.default_factory  # a nested section's class, or dict
            if isinstance(factory, type) and dataclasses.is_dataclass(factory):
                factory = _models(factory, made)
            fields[item.name] = (hint, Field(default_factory=factory))
        else:
            fields[item.name] = (hint, item.default)
    model: type[BaseModel] = create_model(
        cls.__name__, __config__=ConfigDict(frozen=True, extra="forbid"), __module__=__name__, **fields
    )
    made[cls] = model
    return model


def _made() -> tuple[type[BaseModel], dict[type[BaseModel], type[Any]]]:
    made: dict[type[Any], type[BaseModel]] = {}
    root = _models(Settings, made)
    return root, {model: cls for cls, model in made.items()}


SettingsModel, _DATACLASS_OF = _made()


def _dataclass_of(value: Any) -> Any:
    """A validated model (and the models in its fields) as its dataclass; other values as they are."""
    cls = _DATACLASS_OF.get(type(value))
    if cls is None:
        return value
    return cls(**{name: _dataclass_of(getattr(value, name)) for name in type(value).model_fields})


def settings_from(data: dict[str, Any]) -> tuple[Settings | None, Problems]:
    """``data`` (the merged layers) as Settings, or None and each problem's path and message."""
    try:
        model = SettingsModel.model_validate(data)
    except ValidationError as exc:
        return None, [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
    settings: Settings = _dataclass_of(model)
    return settings, []
