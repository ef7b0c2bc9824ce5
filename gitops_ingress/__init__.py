"""gitops-ingress: git branches of Ingress files turned into validated, diffed, live routing.

Validation's hot modules may run compiled (setup.py's ``VALIDATION_PATH``, gitops_ingress/compiled.py);
``VALIDATION_BUILD`` says which build this process uses. It is decided here, before anything of
core is imported, by the same rule as the proxy's request path.
"""

import os
from pathlib import Path

from gitops_ingress.compiled import Build, install

__version__ = "0.1.0"

_CORE = Path(__file__).parent / "core"
VALIDATION_BUILD: Build = install(
    {"gitops_ingress.core": _CORE, "gitops_ingress.core.validation": _CORE / "validation"}, os.environ
)
