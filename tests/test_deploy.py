"""Deployment files: the Dockerfile, the compose file and the Kubernetes example.

Docker cannot run here, so these are checked as files: the Dockerfile's instructions per stage,
the compose file's structure, and the Kubernetes example through ghapp's own checks.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ghapp.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
KUBERNETES = ROOT / "deploy" / "kubernetes"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions, grouped by stage (the ARGs before the first FROM form stage 0)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = [[]]
    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        op, _, arg = line.partition(" ")
        if op.upper() == "FROM":
            stages.append([])
        stages[-1].append((op.upper(), arg.strip()))
    return stages


def test_the_base_image_is_pinned_by_digest_in_every_stage() -> None:
    stages = dockerfile_stages()
    args = dict(a.split("=", 1) for op, a in stages[0] if op == "ARG")
    assert DIGEST.match(args["PYTHON_IMAGE"]), args["PYTHON_IMAGE"]
    froms = [stage[0][1].split()[0] for stage in stages[1:]]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_the_runtime_stage_has_no_build_tools_and_only_the_server_extra() -> None:
    build, runtime = dockerfile_stages()[1:]
    installs = " ".join(arg for op, arg in build if op == "RUN")
    assert 'pip install ".[server]"' in installs and "test" not in installs
    runtime_runs = " ".join(arg for op, arg in runtime if op == "RUN")
    assert not re.search(r"pip|apt-get|gcc|build-essential", runtime_runs)
    assert ("COPY", "--from=build /opt/ghapp /opt/ghapp") in runtime


def test_the_image_carries_oci_labels_that_match_the_project() -> None:
    runtime = dockerfile_stages()[-1]
    labels = dict(
        re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', dict(runtime)["LABEL"])
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.title"] == "ghapp"
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert "${VERSION}" in labels["org.opencontainers.image.version"]
    assert ("ARG", f"VERSION={project['version']}") in runtime


def test_the_image_runs_ghapp_serve_as_a_numeric_non_root_user() -> None:
    from ghapp.app.cli import add_commands

    runtime = dockerfile_stages()[-1]
    instructions = dict(runtime)
    cmd = json.loads(instructions["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] in scripts
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    assert hasattr(parser.parse_args(cmd[1:]), "run")
    user = instructions["USER"].split(":")[0]
    assert user.isdigit() and user != "0"  # numeric: Kubernetes' runAsNonRoot can verify it
    names = [op for op, _ in runtime]
    assert names.index("USER") < names.index("CMD")
    assert ("EXPOSE", "3000") in runtime


def test_the_healthcheck_is_liveness_with_the_python_in_the_image() -> None:
    healthcheck = dict(dockerfile_stages()[-1])["HEALTHCHECK"]
    assert "python" in healthcheck and "/healthz" in healthcheck and "curl" not in healthcheck


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    copied = {
        part for op, arg in dockerfile_stages()[1] if op == "COPY" for part in arg.split()[:-1]
    }
    assert copied == {"pyproject.toml", "README.md", "LICENSE", "ghapp", "rules"}
    for path in copied:
        assert f"!{path}" in ignore or f"!{path}/" in ignore


def test_the_license_file_is_the_apache_license_pyproject_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert (
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    )
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text
    assert len(text.splitlines()) > 190  # the full text, not a notice


# ---- docker compose --------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return loaded


def test_compose_runs_two_app_replicas_and_a_worker_on_postgresql() -> None:
    services = compose()["services"]
    assert services["ghapp"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["ghapp", "worker"]
    for name in ("ghapp", "worker"):
        service = services[name]
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://ghapp:${")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert service["env_file"] == "../.env"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["nginx"]["ports"] == ["3000:3000"]
    assert "upstream ghapp { server ghapp:3000" in compose()["configs"]["nginx"]["content"]


def test_compose_pins_every_pulled_image_by_digest() -> None:
    for name, service in compose()["services"].items():
        if "build" not in service:
            assert DIGEST.match(service["image"]), name


# ---- Kubernetes ------------------------------------------------------------------------------
def kubernetes_findings(directory: Path, capsys: pytest.CaptureFixture[str]) -> list[Any]:
    assert main(["check", str(directory), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    return [f for f in report["findings"] if f["rule"].startswith("k8s/")]


def test_ghapps_own_kubernetes_checks_pass_on_the_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert kubernetes_findings(KUBERNETES, capsys) == []


def test_the_checks_do_look_at_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    manifest = copy / "ghapp.yaml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    )
    rules = {f["rule"] for f in kubernetes_findings(copy, capsys)}
    assert "k8s/writable-root-filesystem" in rules


def test_the_kubernetes_example_probes_liveness_and_readiness_apart() -> None:
    documents = list(yaml.safe_load_all((KUBERNETES / "ghapp.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # A readiness answer can take the database check's full timeout (ghapp.app.health).
    assert container["readinessProbe"]["timeoutSeconds"] > 10
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["envFrom"] == [{"secretRef": {"name": "ghapp"}}]
    assert deployment["spec"]["replicas"] == 2
