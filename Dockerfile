# syntax=docker/dockerfile:1
# gitops-ingress: one image for the control plane (serve) and the proxy (proxy --kubernetes).
# Build stage: wheels are built here, with the C compiler that setup.py uses to compile the
# proxy's request path (mypyc) and that some dependencies may need.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY gitops_ingress ./gitops_ingress
# Every version from constraints.txt, so neither the build nor the image resolves whatever was
# released today. The wheel is built in a venv of its own with the pinned build requirements
# (setuptools, wheel, and mypy for mypyc); the image's venv gets the wheel and its dependencies only.
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir --constraint constraints.txt setuptools wheel mypy \
 && /opt/build/bin/pip wheel --no-cache-dir --no-build-isolation --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt /wheels/*.whl

# Final stage: the slim base, git (the mirror runs git), the virtualenv and nothing else.
FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gitops \
 && useradd --system --uid 10001 --gid gitops --home-dir /var/lib/gitops-ingress --shell /usr/sbin/nologin gitops \
 && mkdir -p /var/lib/gitops-ingress \
 && chown gitops:gitops /var/lib/gitops-ingress
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/gitops-ingress
EXPOSE 8000 8080 8443 9090
# The control plane answers /healthz on 8000; a proxy started with --admin-listen on 9090.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u\nfor port in (8000, 9090):\n    try:\n        u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)\n        sys.exit(0)\n    except Exception:\n        pass\nsys.exit(1)"]
ENTRYPOINT ["gitops-ingress"]
CMD ["--help"]
