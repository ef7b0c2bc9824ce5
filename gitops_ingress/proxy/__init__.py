"""The data plane: an asyncio HTTP/1.1 reverse proxy on httptools that serves stable and preview hosts.

The request path may run compiled (setup.py, proxy/build.py); ``BUILD`` says which build this
process uses. It is decided here, before any module of the request path is imported.
"""

import os
from pathlib import Path

from gitops_ingress.proxy.build import Build, install

BUILD: Build = install(__name__, Path(__file__).parent, os.environ)
