"""The preview lifecycle settings (docs/previews-lifecycle.md): how a file, the environment and
bad values reach ``Settings``, and what the old ``preview_ttl`` key means now."""

from __future__ import annotations

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.settings import Settings


def test_lifecycle_settings_from_a_file_and_the_variables() -> None:
    settings = Settings.build(
        {"preview_ttl": 3600, "preview_keep": ["release/*", "demo"]},
        {"max_previews": "20", "deleted_preview_grace": "60"},  # GITOPS_INGRESS_* (cli/variables.py)
    )
    assert (settings.preview_ttl, settings.max_previews, settings.deleted_preview_grace) == (3600, 20, 60)
    assert settings.preview_kept("release/1.2") and settings.preview_kept("demo")
    assert not settings.preview_kept("feature/demo") and not settings.preview_kept("release")


def test_defaults_keep_every_preview_and_remove_deleted_ones_at_once() -> None:
    settings = Settings()
    assert (settings.preview_ttl, settings.max_previews, settings.deleted_preview_grace) == (0, 0, 0)


def test_an_old_file_with_preview_ttl_still_loads_with_the_new_meaning() -> None:
    # before the lifecycle, preview_ttl was the deleted-branch grace; the key is kept (a file
    # that set it loads), it now means the idle time-to-live, and the grace has its own name
    settings = Settings.build({"preview_ttl": 600})
    assert settings.preview_ttl == 600 and settings.deleted_preview_grace == 0


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"preview_ttl": -1}, "preview_ttl"),
        ({"max_previews": -2}, "max_previews"),
        ({"deleted_preview_grace": -5}, "deleted_preview_grace"),
        ({"preview_keep": "release/*"}, "preview_keep"),
    ],
)
def test_bad_lifecycle_values_are_named(data: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid settings: {where}"):
        Settings.build(data)
