"""The real /usr/bin/kubectl against the stand-in: discovery, OpenAPI v3 (server-side field
validation), tables, watch, server-side apply with conflicts, and delete.

These spawn kubectl, so they are marked slow; CI needs kubectl on PATH (or at /usr/bin/kubectl).
"""

from __future__ import annotations

import os
import pathlib
import selectors
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.support.kubeapi import StandIn
from tests.support.manifests import PATH_ENTRY, Obj, ingress, set_at, to_yaml

pytestmark = pytest.mark.slow
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KubectlRunner = Callable[..., subprocess.CompletedProcess[str]]  # the ``kubectl`` fixture


def shop(host: str = "shop.example.com") -> Obj:
    return ingress("shop", host, "api", namespace="default", labels={"team": "shop"})


def _manifest(tmp_path: pathlib.Path, host: str = "shop.example.com") -> str:
    path = tmp_path / f"ingress-{host}.yaml"
    path.write_text(to_yaml(shop(host)))
    return str(path)


class _LineReader:
    """Lines of a running process's stdout, each read waiting at most a deadline (select on the
    raw pipe; a buffered text stream would hide lines from select)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._buffer = b""

    def read(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            while self._buffer.count(b"\n") < count and time.monotonic() < deadline:
                if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    chunk = os.read(self._fd, 65536)
                    if not chunk:
                        break
                    self._buffer += chunk
        *complete, partial = self._buffer.split(b"\n")
        taken = complete[:count]
        self._buffer = b"\n".join(complete[count:] + [partial])
        return [line.decode() for line in taken]


def test_get_namespaces_and_ingresses(kubectl: KubectlRunner, tmp_path: pathlib.Path) -> None:
    got = kubectl("get", "ns")
    assert got.returncode == 0, got.stderr
    assert got.stdout.split("\n")[0].split() == ["NAME", "STATUS", "AGE"]
    assert "default" in got.stdout and "Active" in got.stdout
    assert kubectl("apply", "--server-side", "-f", _manifest(tmp_path)).returncode == 0
    table = kubectl("get", "ingress", "-A").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table[1].split()[:4] == ["default", "shop", "gitops-ingress", "shop.example.com"]
    as_json = kubectl("get", "ingress", "shop", "-o", "jsonpath={.spec.rules[0].host}")
    assert as_json.stdout == "shop.example.com"


def test_server_side_apply_conflict_force_and_delete(kubectl: KubectlRunner, tmp_path: pathlib.Path) -> None:
    first = kubectl("apply", "--server-side", "-f", _manifest(tmp_path))
    assert first.returncode == 0 and "serverside-applied" in first.stdout, first.stderr
    other = kubectl("apply", "--server-side", "--field-manager=other", "-f", _manifest(tmp_path, "other.example.com"))
    assert other.returncode == 1
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl" using networking.k8s.io/v1: .spec.rules'
    ) in other.stderr
    forced = kubectl(
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        _manifest(tmp_path, "other.example.com"),
    )
    assert forced.returncode == 0, forced.stderr
    host = kubectl("get", "ingress", "shop", "-o", "jsonpath={.spec.rules[0].host}").stdout
    assert host == "other.example.com"
    deleted = kubectl("delete", "ingress", "shop")
    assert deleted.returncode == 0 and 'ingress.networking.k8s.io "shop" deleted' in deleted.stdout
    missing = kubectl("get", "ingress", "shop")
    assert missing.returncode == 1
    assert 'ingresses.networking.k8s.io "shop" not found' in missing.stderr


def test_validation_errors_reach_kubectl(kubectl: KubectlRunner, tmp_path: pathlib.Path) -> None:
    typo = _manifest(tmp_path).replace(".yaml", "-typo.yaml")
    pathlib.Path(typo).write_text(to_yaml(set_at(shop(), f"{PATH_ENTRY}.pathTyp", "Exact")))
    strict = kubectl("apply", "--server-side", "-f", typo)
    assert strict.returncode == 1
    assert 'unknown field "spec.rules[0].http.paths[0].pathTyp"' in strict.stderr
    invalid = kubectl("apply", "--server-side", "-f", _manifest(tmp_path, "Not_A_Host"))
    assert invalid.returncode == 1
    assert 'The Ingress "shop" is invalid' in invalid.stderr
    assert "spec.rules[0].host" in invalid.stderr


def test_get_watch_prints_changes(stand_in: StandIn, kubectl: KubectlRunner, tmp_path: pathlib.Path) -> None:
    assert kubectl("apply", "--server-side", "-f", _manifest(tmp_path)).returncode == 0
    proc = subprocess.Popen(
        [
            KUBECTL,
            "--kubeconfig",
            str(stand_in.kubeconfig_path),
            "--cache-dir",
            str(tmp_path / "kubectl-cache"),
            "get",
            "ingress",
            "-w",
            "--request-timeout=30s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader = _LineReader(proc)
    try:
        initial = reader.read(2, timeout=20)
        assert initial[0].split()[:2] == ["NAME", "CLASS"]
        assert initial[1].split()[:3] == ["shop", "gitops-ingress", "shop.example.com"]
        changed = kubectl("apply", "--server-side", "--force-conflicts", "-f", _manifest(tmp_path, "new.example.com"))
        assert changed.returncode == 0, changed.stderr
        update = reader.read(1, timeout=20)
        assert update and update[0].split()[:3] == ["shop", "gitops-ingress", "new.example.com"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_create_subcommands_send_protobuf(kubectl: KubectlRunner) -> None:
    assert kubectl("create", "namespace", "team-a").returncode == 0
    assert kubectl("create", "configmap", "cm", "-n", "team-a", "--from-literal=a=b").returncode == 0
    made = kubectl("create", "secret", "generic", "s", "-n", "team-a", "--from-literal=a=b")
    assert made.returncode == 0, made.stderr
    data = kubectl("get", "cm,secret", "-n", "team-a", "-o", "jsonpath={range .items[*]}{.kind}={.data.a} {end}").stdout
    assert data.split() == ["ConfigMap=b", "Secret=Yg=="]
    unsupported = kubectl("create", "service", "clusterip", "api", "--tcp=80:8080")
    assert unsupported.returncode == 1 and "send JSON or YAML" in unsupported.stderr
    gone = kubectl("delete", "namespace", "team-a")
    assert gone.returncode == 0, gone.stderr
    assert "team-a" not in kubectl("get", "ns").stdout
    assert kubectl("get", "cm", "-A").stdout.strip() == ""
