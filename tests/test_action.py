"""The GitHub Action (`action.yml`) and the README's example workflow: ghapp's own workflow rules
pass on both, composite actions are audited like workflows, and the action's shell steps do what
the runner would make them do."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from ghapp.core.evaluate import evaluate
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.parsing import parse_composite_action
from ghapp.rules import default_catalog
from tests.conftest import ROOT

ACTION = ROOT / "action.yml"
SHA = re.compile(r"@[0-9a-f]{40}\b")


def workflow_findings(files: dict[str, str]) -> list[str]:
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 11, 23))
    return [
        f"{f.rule} {f.path}:{f.line}" for f in report.findings if f.rule.startswith("workflow/")
    ]


def readme_workflow() -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- action-example:begin -->", 1)[1].split(
        "<!-- action-example:end -->"
    )[0]
    return block.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_ghapps_own_rules_pass_on_the_action() -> None:
    text = ACTION.read_text()
    action = parse_composite_action("action.yml", text)
    assert action is not None and len(action.jobs[0].steps) == 4  # audited, not skipped
    assert workflow_findings({"action.yml": text}) == []


def test_ghapps_own_rules_pass_on_the_readme_example_workflow() -> None:
    example = readme_workflow()
    assert "uses: ghapp/ghapp@" in example
    assert workflow_findings({".github/workflows/ghapp.yml": example}) == []


def test_the_action_pins_what_it_uses_and_names_its_inputs() -> None:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"config", "fail-on", "upload-sarif", "sarif"}
    assert set(action["outputs"]) == {"conclusion", "new-findings", "blocking", "sarif"}
    uses = [s["uses"] for s in action["runs"]["steps"] if "uses" in s]
    assert uses and all(SHA.search(u) for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    # Inputs reach the scripts through env, never expanded into them (script injection).
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")


def test_composite_actions_are_audited_like_workflows() -> None:
    action = (
        "name: x\nruns:\n  using: composite\n  steps:\n"
        "    - uses: acme/setup@v2\n"
        "    - shell: bash\n      run: echo ${{ github.event.pull_request.title }}\n"
    )
    found = workflow_findings({".github/actions/x/action.yml": action})
    assert found == [
        "workflow/script-injection .github/actions/x/action.yml:7",
        "workflow/unpinned-action .github/actions/x/action.yml:5",
    ]
    docker = "name: x\nruns:\n  using: docker\n  image: Dockerfile\n"
    assert workflow_findings({"action.yml": docker}) == []


def step_script(name: str) -> str:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    (step,) = [s for s in action["runs"]["steps"] if s.get("name") == name]
    script: str = step["run"]
    return script


def test_the_check_step_records_the_status_and_the_last_step_returns_it(
    tmp_path: Path,
) -> None:
    ghapp = Path(sys.executable).with_name("ghapp")
    if not ghapp.exists():
        pytest.skip("ghapp console script not installed in this environment")
    # RUNNER_TEMP as the install step leaves it, with this environment's ghapp.
    (tmp_path / "runner" / "ghapp-venv" / "bin").mkdir(parents=True)
    (tmp_path / "runner" / "ghapp-venv" / "bin" / "ghapp").symlink_to(ghapp)
    workspace = tmp_path / "repo"
    (workspace / "k8s").mkdir(parents=True)
    (workspace / "k8s" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: c\n      image: acme/c:latest\n"
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps({}))
    outputs = tmp_path / "output"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        # The runner evaluates the `env:` expressions of the step from the inputs' defaults:
        "GHAPP_CONFIG": "",
        "GHAPP_FAIL_ON": "error",
        "GHAPP_SARIF": "ghapp.sarif",
    }
    check = subprocess.run(
        ["bash", "-e", "-c", step_script("Check")],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr  # the step itself never fails ...
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["status"] == "1" and values["conclusion"] == "failure"
    assert values["sarif"] == "ghapp.sarif" and (workspace / "ghapp.sarif").is_file()
    conclusion = subprocess.run(
        ["bash", "-e", "-c", step_script("Conclusion")],
        env={**env, "GHAPP_STATUS": values["status"]},
        check=False,
    )
    assert conclusion.returncode == 1  # ... the last one does, after the SARIF upload
