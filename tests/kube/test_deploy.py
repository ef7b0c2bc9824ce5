"""deploy/ applies cleanly with the real kubectl, and holds what the issue asks of it; the
Dockerfile is checked by parsing it (no container engine runs on CI machines)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from tests.kube.conftest import KubectlRunner

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def rendered(kubectl: KubectlRunner) -> list[dict[str, Any]]:
    result = kubectl("kustomize", str(DEPLOY))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_deploy_applies_cleanly_with_kubectl_server_side(kubectl: KubectlRunner) -> None:
    first = kubectl("apply", "--server-side", "-k", str(DEPLOY))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    again = kubectl("apply", "--server-side", "-k", str(DEPLOY))
    assert again.returncode == 0, again.stderr
    listed = kubectl(
        "get", "deployments,poddisruptionbudgets,services,serviceaccounts", "-n", "gitops-ingress", "-o", "name"
    )
    assert listed.returncode == 0, listed.stderr
    for name in (
        "deployment.apps/gitops-ingress-control-plane",
        "deployment.apps/gitops-ingress-proxy",
        "poddisruptionbudget.policy/gitops-ingress-proxy",
        "service/gitops-ingress-proxy",
        "serviceaccount/gitops-ingress-proxy",
    ):
        assert name in listed.stdout.split()
    ingress_class = kubectl("get", "ingressclass", "gitops-ingress", "-o", "jsonpath={.spec.controller}")
    assert ingress_class.stdout == "gitops-ingress.dev/controller"


def test_manifests_hold_replicas_budget_and_load_balancer(kubectl: KubectlRunner) -> None:
    docs = rendered(kubectl)
    deployments = by_kind(docs, "Deployment")
    assert deployments["gitops-ingress-control-plane"]["spec"]["replicas"] == 2
    assert deployments["gitops-ingress-proxy"]["spec"]["replicas"] == 3
    pdb = by_kind(docs, "PodDisruptionBudget")["gitops-ingress-proxy"]
    assert pdb["spec"]["selector"] == deployments["gitops-ingress-proxy"]["spec"]["selector"]
    service = by_kind(docs, "Service")["gitops-ingress-proxy"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert sorted(p["port"] for p in service["spec"]["ports"]) == [80, 443]
    assert by_kind(docs, "IngressClass")["gitops-ingress"]["spec"]["controller"] == "gitops-ingress.dev/controller"


def test_pods_are_non_root_read_only_probed_and_sized(kubectl: KubectlRunner) -> None:
    for name, deployment in by_kind(rendered(kubectl), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["readinessProbe"] and container["livenessProbe"]
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}
            # everything the process writes is a mounted volume
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts


def test_control_plane_args_use_the_kubernetes_target_and_the_proxy_watches(kubectl: KubectlRunner) -> None:
    deployments = by_kind(rendered(kubectl), "Deployment")
    control = deployments["gitops-ingress-control-plane"]["spec"]["template"]["spec"]["containers"][0]
    assert control["args"][0] == "serve" and "--target=kubernetes" in control["args"]
    assert {e["name"] for e in control["env"]} >= {"POD_NAME", "POD_NAMESPACE"}
    proxy = deployments["gitops-ingress-proxy"]["spec"]["template"]["spec"]["containers"][0]
    assert proxy["args"][:2] == ["proxy", "--kubernetes"]


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    instructions = _dockerfile()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) >= 2 and all("slim" in s for s in stages)
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(op == "HEALTHCHECK" and "CMD" in args for op, args in final)
    final_runs = " ".join(args for op, args in final if op == "RUN")
    assert not re.search(r"build-essential|gcc|\bmake\b|-dev\b", final_runs)
    copies = [shlex.split(args) for op, args in final if op == "COPY"]
    assert all(any(a.startswith("--from=") for a in c) for c in copies), "the final stage only copies built artefacts"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and "tests" in ignored
    # the build stage compiles the proxy's request path (setup.py): it needs setup.py and a compiler
    build = instructions[: max(i for i, (op, _) in enumerate(instructions) if op == "FROM")]
    assert any(op == "COPY" and "setup.py" in shlex.split(args) for op, args in build)
    assert re.search(r"build-essential|gcc", " ".join(args for op, args in build if op == "RUN"))
    # ... and installs every package at the version constraints.txt pins, build requirements too
    assert any(op == "COPY" and "constraints.txt" in shlex.split(args) for op, args in build)
    installs = [
        command
        for op, args in build
        if op == "RUN"
        for command in args.split("&&")
        if re.search(r"\bpip install\b", command) and "--upgrade pip" not in command
    ]
    assert len(installs) >= 2 and all("--constraint constraints.txt" in command for command in installs), installs
