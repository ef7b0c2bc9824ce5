"""The ``GITOPS_INGRESS_*`` variables: one settings model, read once by the cli, passed down frozen.

``Variables.read(environ)`` is the only reader of the variables (docs/configuration.md lists them,
docs/dev/architecture.md says where settings come from). ``main`` calls it once with
``os.environ`` and hands the result to the command; nothing below the cli reads the environment.
It has one section per documented prefix (``repository``, ``web``, ``process``), each a
pydantic-settings model in ``cli/variable_sections.py``.

Why two modules: most runs set no ``GITOPS_INGRESS_*`` variable at all, and then there is nothing
to check or convert. ``read`` imports the sections only when one is set, and a ``Variables()``
builds a section (its defaults) only when asked for it, so ``validate`` does not pay for importing
pydantic-settings on every run (about 40 ms of its start, docs/dev/architecture.md). What a
section answers is the same either way: the sections are built from the variables alone.

A ``GITOPS_INGRESS_*`` name that belongs to no section is a ConfigError naming it (with the
nearest known name), and so is a bad value: exit 2 with one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitops_ingress.cli.variable_sections import ProcessVariables, RepositoryVariables, Sections, WebVariables

PREFIX = "GITOPS_INGRESS_"


@dataclass(frozen=True, slots=True)
class Variables:
    """Every ``GITOPS_INGRESS_*`` variable of the process, by section; ``Variables()`` is none set."""

    sections: Sections | None = None  # None: no variable is set

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Variables:
        """The variables of ``environ`` (the cli passes ``os.environ``); ConfigError names the
        first unknown or invalid one."""
        ours = {name: value for name, value in environ.items() if name.upper().startswith(PREFIX)}
        if not ours:
            return cls()
        from gitops_ingress.cli.variable_sections import Sections

        return cls(Sections.read(ours))

    def _sections(self) -> Sections:
        if self.sections is not None:
            return self.sections
        from gitops_ingress.cli.variable_sections import Sections

        return Sections()

    @property
    def repository(self) -> RepositoryVariables:
        return self._sections().repository

    @property
    def web(self) -> WebVariables:
        return self._sections().web

    @property
    def process(self) -> ProcessVariables:
        return self._sections().process

    def repository_layer(self) -> dict[str, Any]:
        """What the variables set of the repository settings (``RepositoryVariables.layer``)."""
        return {} if self.sections is None else self.sections.repository.layer()

    @property
    def tracebacks(self) -> bool:
        """``GITOPS_INGRESS_DEBUG`` is set (``ProcessVariables.tracebacks``)."""
        return self.sections is not None and self.sections.process.tracebacks
