"""``validate`` imports what the input needs, not every module the command could use.

Each command is a fresh process, so its imports are part of every run's time (issue 13's speed
point): pydantic only when a settings layer is neither empty nor plain (a ``gitops-ingress.yaml``,
a variable, an option with a bound or a value to coerce: core/settings_schema.py), pydantic-settings only when some ``GITOPS_INGRESS_*`` variable is set, the
kustomize modules only for a tree that holds a kustomization, and logging only by the commands
that log. Checked in a real process from its ``sys.modules``, on real files; and what the lazy
paths answer is what the eager ones did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.manifests import ingress, to_yaml

# validate as the console script runs it, then the modules it loaded (on stderr: stdout is the report)
RUN = """
import sys
from gitops_ingress.cli import main
code = main(sys.argv[1:])
print(code, *sorted(sys.modules), file=sys.stderr)
"""
SETTINGS_MODULES = ("pydantic_settings", "gitops_ingress.cli.variable_sections")
# the models, findings and settings are dataclasses; pydantic checks a settings layer that is not empty
PYDANTIC_MODULES = ("pydantic", "pydantic_core", "annotated_types", "gitops_ingress.core.settings_schema")
KUSTOMIZE_MODULES = (
    "gitops_ingress.kustomize",
    "gitops_ingress.core.kustomize",
    "gitops_ingress.core.kustomize_render",
)
# what only the long-running commands use (``proxy`` and ``serve`` log; validate writes a report)
SERVER_MODULES = ("logging",)
# the route tables and routing state: validate compiles each file's routes, never a table
TABLE_MODULES = (
    "gitops_ingress.core.routing.state",
    "gitops_ingress.core.routing.overlay",
    "gitops_ingress.core.routing.table",
)


def validate(folder: Path, **variables: str) -> tuple[int, set[str], dict[str, object]]:
    """(exit code, modules imported, the JSON report) of ``validate environments`` in ``folder``."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("GITOPS_INGRESS_")}
    done = subprocess.run(
        [sys.executable, "-c", RUN, "validate", "environments", "--format", "json"],
        cwd=folder,
        env={**environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, *modules = done.stderr.splitlines()[-1].split()  # after what the command said on stderr
    return int(code), set(modules), json.loads(done.stdout) if done.stdout else {}


def plain_repository(root: Path) -> Path:
    (root / ".git").mkdir()
    folder = root / "environments" / "prod"
    folder.mkdir(parents=True)
    (folder / "shop.yaml").write_text(to_yaml(ingress("shop", annotations={"a": "b"})))
    return root


def test_a_plain_validate_imports_neither_pydantic_nor_kustomize_nor_logging_nor_tables(tmp_path: Path) -> None:
    code, modules, report = validate(plain_repository(tmp_path))
    assert (code, report["objects"]) == (0, 1)
    assert "gitops_ingress.core.build" in modules  # the check below would pass on a run that did nothing
    held_out = {*PYDANTIC_MODULES, *SETTINGS_MODULES, *KUSTOMIZE_MODULES, *SERVER_MODULES, *TABLE_MODULES}
    assert sorted(modules & held_out) == []


def test_a_plain_settings_file_is_honoured_without_pydantic(tmp_path: Path) -> None:
    # every key known, every value exactly of its type: core/settings.py builds it (settings_of)
    root = plain_repository(tmp_path)
    (root / "gitops-ingress.yaml").write_text("policy:\n  denied_annotations: [a]\n  limits:\n    max_files: 50\n")
    code, modules, report = validate(root)
    assert not modules & set(PYDANTIC_MODULES)
    assert code == 1 and {finding["rule"] for finding in report["findings"]} == {"policy/denied-annotation"}  # type: ignore[union-attr,index]


def test_a_settings_file_is_checked_by_pydantic_and_honoured(tmp_path: Path) -> None:
    root = plain_repository(tmp_path)
    # a bound (max_previews: Annotated[int, Ge(0)]) is pydantic's to check
    (root / "gitops-ingress.yaml").write_text("max_previews: 3\npolicy:\n  denied_annotations: [a]\n")
    code, modules, report = validate(root)
    assert "gitops_ingress.core.settings_schema" in modules
    assert code == 1 and {finding["rule"] for finding in report["findings"]} == {"policy/denied-annotation"}  # type: ignore[union-attr,index]
    (root / "gitops-ingress.yaml").write_text("policy:\n  denied_anotations: [a]\n")
    code, _, report = validate(root)
    assert [(f["rule"], f["line"], f["message"]) for f in report["findings"]] == [  # type: ignore[union-attr,index]
        ("config/settings", 2, "policy.denied_anotations: Extra inputs are not permitted")
    ]


def test_a_variable_set_loads_the_settings_sections_and_is_honoured(tmp_path: Path) -> None:
    root = plain_repository(tmp_path)
    code, modules, report = validate(root, GITOPS_INGRESS_POLICY__DENIED_ANNOTATIONS='["a"]')
    assert set(SETTINGS_MODULES) <= modules
    assert code == 1 and {finding["rule"] for finding in report["findings"]} == {"policy/denied-annotation"}  # type: ignore[union-attr,index]
    code, _, _ = validate(root, GITOPS_INGRESS_NO_SUCH_SETTING="1")
    assert code == 2


def test_a_kustomization_loads_the_renderer_and_is_rendered(tmp_path: Path) -> None:
    root = plain_repository(tmp_path)
    (root / "environments" / "prod" / "kustomization.yaml").write_text("namespace: other\nresources:\n  - shop.yaml\n")
    code, modules, report = validate(root)
    assert (code, report["objects"]) == (0, 1)
    assert {"gitops_ingress.core.kustomize", "gitops_ingress.core.kustomize_render"} <= modules
