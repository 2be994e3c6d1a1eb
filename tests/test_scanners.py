"""Scanner recognition compiled from rules/scanners.yaml: actions and their inputs, `run:`
commands and the shell around them, container images, reusable workflows, and the catalog itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghapp.core.errors import GhappError
from ghapp.core.workflows.parsing import Step
from ghapp.core.workflows.scanners import compile_catalog, normalise_image
from ghapp.core.workflows.shell import split_script
from ghapp.rules import default_catalog, load_catalog

SCANNERS = compile_catalog(default_catalog().tools)


def action(uses: str, **inputs: str) -> list[tuple[str, tuple[str, ...], bool]]:
    step = Step(index=0, line=1, uses=uses, with_=inputs)
    return [(d.tool, d.categories, d.blocking) for d in SCANNERS.match_step(step)]


def script(text: str, shell: str | None = None) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(d.tool, d.categories, d.blocking) for d in SCANNERS.match_script(text, shell)]


@pytest.mark.parametrize(
    ("uses", "inputs", "expected"),
    [
        ("github/codeql-action/analyze@v3", {}, ("codeql", ("sast",), True)),
        ("returntocorp/semgrep-action@v1", {}, ("semgrep", ("sast",), True)),
        ("SonarSource/sonarcloud-github-action@master", {}, ("sonarcloud", ("sast",), False)),
        (
            "SonarSource/sonarqube-scan-action@v5",
            {"args": "-Dsonar.qualitygate.wait=true"},
            ("sonarqube", ("sast",), True),
        ),
        ("securego/gosec@master", {"args": "./..."}, ("gosec", ("sast",), True)),
        ("securego/gosec@master", {"args": "-no-fail ./..."}, ("gosec", ("sast",), False)),
        ("shundor/python-bandit-scan@abc", {"exit_zero": "true"}, ("bandit", ("sast",), False)),
        ("gitleaks/gitleaks-action@v2", {}, ("gitleaks", ("secrets",), True)),
        ("trufflesecurity/trufflehog@main", {}, ("trufflehog", ("secrets",), True)),
        ("actions/dependency-review-action@v4", {}, ("dependency-review", ("sca",), True)),
        (
            "actions/dependency-review-action@v4",
            {"warn-only": "true"},
            ("dependency-review", ("sca",), False),
        ),
        ("google/osv-scanner-action/osv-scanner-action@v2", {}, ("osv-scanner", ("sca",), True)),
        ("anchore/scan-action@v6", {"image": "app:1"}, ("grype", ("container",), True)),
        (
            "anchore/scan-action@v6",
            {"path": ".", "fail-build": "false"},
            ("grype", ("sca",), False),
        ),
        ("bridgecrewio/checkov-action@master", {"soft_fail": "true"}, ("checkov", ("iac",), False)),
        ("bridgecrewio/checkov-action@master", {"soft_fail": "false"}, ("checkov", ("iac",), True)),
        (
            "checkmarx/kics-github-action@v2",
            {"ignore_on_exit": "results"},
            ("kics", ("iac",), False),
        ),
        ("stackrox/kube-linter-action@v1", {}, ("kube-linter", ("iac",), True)),
        ("kubescape/github-action@main", {}, ("kubescape", ("iac",), False)),
        ("kubescape/github-action@main", {"failedThreshold": "50"}, ("kubescape", ("iac",), True)),
        ("hadolint/hadolint-action@v3", {}, ("hadolint", ("iac",), True)),
        (
            "docker/scout-action@v1",
            {"command": "cves", "exit-code": "true"},
            ("docker-scout", ("container",), True),
        ),
        ("oxsecurity/megalinter@v8", {}, ("megalinter", ("sast", "secrets", "sca", "iac"), True)),
    ],
)
def test_actions_and_their_inputs(uses: str, inputs: dict[str, str], expected: tuple) -> None:
    assert action(uses, **inputs) == [expected]


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, (("container",), False)),
        ({"image-ref": "app:1", "exit-code": "1"}, (("container",), True)),
        ({"scan-type": "fs", "exit-code": "1"}, (("sca", "secrets"), True)),
        ({"scan-type": "repo"}, (("sca", "secrets"), False)),
        ({"scan-type": "config", "exit-code": "'1'"}, (("iac",), True)),
        ({"scan-type": "config", "exit-code": "0"}, (("iac",), False)),
        ({"scan-type": "rootfs"}, (("container",), False)),
        ({"scan-type": "${{ inputs.kind }}"}, (("container",), False)),
        ({"exit-code": "${{ inputs.code }}"}, (("container",), False)),
    ],
)
def test_trivy_action_scan_type_and_exit_code(inputs: dict[str, str], expected: tuple) -> None:
    ((tool, categories, blocking),) = action("aquasecurity/trivy-action@0.28.0", **inputs)
    assert (tool, (categories, blocking)) == ("trivy", expected)


@pytest.mark.parametrize(
    ("uses", "inputs", "expected"),
    [
        ("snyk/actions/node@master", {}, (("sca",), True)),
        ("snyk/actions/golang@master", {"command": "monitor"}, (("sca",), False)),
        ("snyk/actions/python@master", {"command": "code test"}, (("sast",), True)),
        ("snyk/actions/docker@master", {"image": "app"}, (("container",), True)),
        ("snyk/actions/iac@master", {}, (("iac",), True)),
    ],
)
def test_snyk_actions(uses: str, inputs: dict[str, str], expected: tuple) -> None:
    ((tool, categories, blocking),) = action(uses, **inputs)
    assert (tool, (categories, blocking)) == ("snyk", expected)


@pytest.mark.parametrize(
    "uses",
    [
        "aquasecurity/setup-trivy@v0.2.0",
        "snyk/actions/setup@master",
        "fairwindsops/polaris/.github/actions/setup-polaris@master",
        "github/codeql-action/upload-sarif@v3",
        "github/codeql-action/init@v3",
        "actions/checkout@v4",
        "./.github/actions/scan",
    ],
)
def test_installing_or_uploading_is_not_a_scan(uses: str) -> None:
    assert [d for d in action(uses) if d[1]] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snyk test", [("snyk", ("sca",), True)]),
        ("snyk code test --sarif > out.sarif", [("snyk", ("sast",), True)]),
        ("snyk iac test --report", [("snyk", ("iac",), True)]),
        ("snyk container test app:1", [("snyk", ("container",), True)]),
        ("snyk container monitor app:1", [("snyk", ("container",), False)]),
        ("snyk monitor --all-projects", [("snyk", ("sca",), False)]),
        ("npx snyk test --severity-threshold=high", [("snyk", ("sca",), True)]),
        ("trivy image --exit-code 1 app:1", [("trivy", ("container",), True)]),
        ("trivy image app:1", [("trivy", ("container",), False)]),
        ("trivy fs --exit-code=1 .", [("trivy", ("sca", "secrets"), True)]),
        ("trivy config --exit-code 1 infra/", [("trivy", ("iac",), True)]),
        ("trivy --version", []),
        ("semgrep ci", [("semgrep", ("sast",), True)]),
        ("semgrep scan --config auto", [("semgrep", ("sast",), False)]),
        ("semgrep --config auto --error", [("semgrep", ("sast",), True)]),
        ("bandit -r src", [("bandit", ("sast",), True)]),
        ("bandit -r src --exit-zero", [("bandit", ("sast",), False)]),
        ("python -m bandit -r .", [("bandit", ("sast",), True)]),
        ("pip install bandit", []),
        ("pip install pip-audit && pip-audit -r requirements.txt", [("pip-audit", ("sca",), True)]),
        ("python3 -m pip_audit", [("pip-audit", ("sca",), True)]),
        (
            "go run golang.org/x/vuln/cmd/govulncheck@latest ./...",
            [("govulncheck", ("sca",), True)],
        ),
        ("go install github.com/securego/gosec/v2/cmd/gosec@latest", []),
        ("$HOME/go/bin/gosec ./...", [("gosec", ("sast",), True)]),
        ("npm audit --audit-level=high", [("npm-audit", ("sca",), True)]),
        ("npm audit fix", []),
        ("gitleaks detect --source . -v", [("gitleaks", ("secrets",), True)]),
        ("gitleaks version", []),
        ("trufflehog git file://. --fail", [("trufflehog", ("secrets",), True)]),
        ("trufflehog filesystem .", [("trufflehog", ("secrets",), False)]),
        ("checkov -d . --soft-fail", [("checkov", ("iac",), False)]),
        ("tfsec .", [("tfsec", ("iac",), True)]),
        ("kubescape scan k8s/*.yaml --fail-threshold 40", [("kubescape", ("iac",), True)]),
        ("curl -s https://example.invalid/install.sh | /bin/bash", []),
        ("polaris version", []),
        ("polaris audit --audit-path k8s --set-exit-code-on-danger", [("polaris", ("iac",), True)]),
        ("sudo -E env FOO=1 osv-scanner scan -r .", [("osv-scanner", ("sca",), True)]),
        ("./gradlew dependencyCheckAnalyze", [("dependency-check", ("sca",), False)]),
        ("sonar-scanner -Dsonar.qualitygate.wait=true", [("sonarqube", ("sast",), True)]),
        ("codeql database analyze db --format=sarif-latest", [("codeql", ("sast",), False)]),
    ],
)
def test_run_commands(text: str, expected: list) -> None:
    assert script(text) == expected


@pytest.mark.parametrize(
    ("text", "shell", "blocking"),
    [
        ("gitleaks detect || true", None, False),
        ("gitleaks detect || echo 'leaks found'", None, False),
        ("gitleaks detect || exit 1", None, True),
        ("gitleaks detect # || true", None, True),
        ("gitleaks detect | tee out.txt", None, False),
        ("gitleaks detect | tee out.txt", "bash", True),
        ("set -o pipefail\ngitleaks detect | tee out.txt", None, True),
        ("set +e\ngitleaks detect\necho done", None, False),
        ("set +e\ngitleaks detect", None, True),
        ("! gitleaks detect", None, False),
        ("if gitleaks detect; then echo clean; fi", None, False),
        ("if [ -f x ]; then gitleaks detect; fi", None, True),
        ("gitleaks detect &", None, False),
        ("echo \"${{ github.event_name || 'x' }}\" && gitleaks detect", None, True),
        ("gitleaks detect \\\n  --source . || true", None, False),
        ("gitleaks detect && echo clean\necho next", None, False),
        ("gitleaks detect && echo clean", None, True),
        ("set -euo pipefail\ngitleaks detect | tee out.txt\necho next", None, True),
        ("set +o errexit\ngitleaks detect\necho next", None, False),
        ("gitleaks detect || rc=$?\necho rc=$rc\nexit $rc", None, True),
        ("gitleaks detect || rc=$?\necho rc=$rc", None, False),
        ("set +e\ngitleaks detect; exit $?\necho unreachable", None, True),
        ('set +e\ngitleaks detect\nexit "${?}"', None, True),
        ("set +e\ngitleaks detect && echo clean; exit $?\necho next", None, True),
    ],
)
def test_the_shell_around_a_command_decides_blocking(
    text: str, shell: str | None, blocking: bool
) -> None:
    assert [b for _, _, b in script(text, shell)] == [blocking]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "docker run --rm -v $(pwd):/src aquasec/trivy image --exit-code 1 app",
            [("trivy", ("container",), True)],
        ),
        (
            "docker run --rm -v $PWD:/path zricethezav/gitleaks:v8.18.0 detect --source=/path",
            [("gitleaks", ("secrets",), True)],
        ),
        ("docker run returntocorp/semgrep semgrep ci", [("semgrep", ("sast",), True)]),
        (
            "docker run --rm -it -w /src -v .:/src docker.io/bridgecrew/checkov:3 -d /src",
            [("checkov", ("iac",), True)],
        ),
        ("docker run --rm alpine:3 echo hi", []),
        ("docker build -t app .", []),
    ],
)
def test_container_images_run_their_tool(text: str, expected: list) -> None:
    assert script(text) == expected


def test_docker_uses_with_args() -> None:
    step = Step(
        index=0,
        line=1,
        uses="docker://aquasec/trivy:0.50.0",
        with_={"args": "config --exit-code 1 ."},
    )
    ((det),) = SCANNERS.match_step(step)
    assert (det.tool, det.categories, det.blocking) == ("trivy", ("iac",), True)


@pytest.mark.parametrize(
    ("uses", "inputs", "blocking"),
    [
        ("google/osv-scanner-action/.github/workflows/osv-scanner-reusable-pr.yml@v2", {}, True),
        (
            "google/osv-scanner-action/.github/workflows/osv-scanner-reusable.yml@abc",
            {"fail-on-vuln": "false"},
            False,
        ),
    ],
)
def test_remote_reusable_workflows(uses: str, inputs: dict[str, str], blocking: bool) -> None:
    det = SCANNERS.match_workflow_call(uses, inputs)
    assert det is not None and (det.tool, det.categories, det.blocking) == (
        "osv-scanner",
        ("sca",),
        blocking,
    )
    assert SCANNERS.match_workflow_call("org/other/.github/workflows/ci.yml@v1", {}) is None


def test_command_lines_inside_a_script() -> None:
    text = "echo start\n# trivy image x\nnpm ci\nnpm audit\n"
    assert [(d.tool, d.line_offset) for d in SCANNERS.match_script(text)] == [("npm-audit", 3)]


def test_split_script_honours_quotes_substitutions_and_comments() -> None:
    commands = split_script("A=$(echo 'a|b' | wc -c) && echo \"x;y\" # c; d\nfoo || bar")
    assert [(t, line, op) for t, line, op in commands] == [
        ("A=$(echo 'a|b' | wc -c)", 0, "&&"),
        ('echo "x;y"', 0, ";"),
        ("foo", 1, "||"),
        ("bar", 1, ";"),
    ]


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("aquasec/trivy:0.50.0", "aquasec/trivy"),
        ("docker.io/aquasec/trivy@sha256:abc", "aquasec/trivy"),
        ("ghcr.io/gitleaks/gitleaks:latest", "ghcr.io/gitleaks/gitleaks"),
        ("localhost:5000/tool:1", "localhost:5000/tool"),
        ("alpine", "alpine"),
    ],
)
def test_normalise_image(image: str, name: str) -> None:
    assert normalise_image(image) == name


def test_catalog_covers_forty_real_tools_and_the_named_ones() -> None:
    tools = {t["id"]: t for t in default_catalog().tools}
    assert sum(1 for t in tools.values() if t["categories"]) >= 40
    named = {"sonarqube", "sonarcloud", "semgrep", "bandit", "gosec", "trivy", "snyk", "checkov",
             "gitleaks", "trufflehog", "codeql", "tfsec", "kics", "terrascan", "kubescape",
             "kube-linter", "polaris", "osv-scanner", "dependency-review", "grype", "pip-audit",
             "npm-audit"}  # fmt: skip
    assert named <= set(tools)
    for category in ("sast", "secrets", "sca", "container", "iac"):
        assert any(category in t["categories"] for t in tools.values())


def test_every_use_category_is_declared_by_its_tool() -> None:
    for tool in default_catalog().tools:
        declared = set(tool["categories"])
        for kind in ("actions", "workflows", "commands"):
            for spec in tool.get(kind, ()):
                used = set(spec["categories"])
                for values in spec.get("category_inputs", {}).values():
                    for cats in values.values():
                        used |= set(cats)
                for cats in spec.get("category_options", {}).get("values", {}).values():
                    used |= set(cats)
                for cats in spec.get("category_switches", {}).values():
                    used |= set(cats)
                assert used <= declared, (tool["id"], spec)


# --- what a use scans: a tool's flags and inputs choose the categories ----------------------


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("trivy fs .", ("sca", "secrets")),
        ("trivy fs --scanners vuln .", ("sca",)),
        ("trivy fs --scanners=secret .", ("secrets",)),
        ("trivy repo --scanners vuln,secret,misconfig .", ("sca", "secrets", "iac")),
        ("trivy fs --security-checks config .", ("iac",)),
        ("trivy fs --scanners license .", ()),
        ("trivy image app:1", ("container",)),
        ("trivy image --scanners secret app:1", ()),
        ("trivy image --scanners vuln app:1", ("container",)),
        ("trivy rootfs /", ("container",)),
        ("trivy k8s --scanners misconfig cluster", ("iac",)),
        ("trivy sbom --scanners license sbom.json", ()),
        ("trivy image --download-db-only", ()),
        ("trivy --cache-dir .cache image --download-java-db-only", ()),
        ("checkov -d .", ("iac",)),
        ("checkov -d . --framework secrets", ("secrets",)),
        ("checkov --framework terraform secrets -d .", ("iac", "secrets")),
        ("checkov -d . --framework sca_package", ("sca",)),
        ("checkov -d . --skip-framework secrets", ("iac",)),
        ("semgrep --config p/secrets --error", ("secrets",)),
        ("semgrep scan --config=p/terraform --config p/python", ("sast", "iac")),
        ("semgrep scan --config auto", ("sast",)),
        ("semgrep ci --secrets", ("secrets",)),
        ("semgrep ci --supply-chain --code", ("sast", "sca")),
        ("snyk test --docker app:1", ("container",)),
        ("grype db update", None),
        ("grype version", None),
        ("grype alpine:3", ("container",)),
        ("npm audit signatures", None),
        ("cargo deny check licenses bans", ()),
        ("cargo deny check", ("sca",)),
        ("cargo deny check advisories licenses", ("sca",)),
        ("osv-scanner scan image app:1", ("container",)),
        ("osv-scanner --docker app:1", ("container",)),
        ("osv-scanner fix -M package.json", ()),
        ("osv-scanner scan -r .", ("sca",)),
        ("osv-scanner --version", None),
        ("gitleaks version", None),
        ("tfsec --help", None),
    ],
)
def test_flags_choose_what_a_command_scans(text: str, categories: tuple | None) -> None:
    found = SCANNERS.match_script(text)
    if categories is None:
        assert found == []
    else:
        assert [d.categories for d in found] == [categories]


@pytest.mark.parametrize(
    ("uses", "inputs", "categories"),
    [
        ("aquasecurity/trivy-action@0.28.0", {"scan-type": "fs", "scanners": "vuln"}, ("sca",)),
        (
            "aquasecurity/trivy-action@0.28.0",
            {"scan-type": "repo", "scanners": "vuln,secret,misconfig"},
            ("sca", "secrets", "iac"),
        ),
        (
            "aquasecurity/trivy-action@0.28.0",
            {"scan-type": "fs", "scanners": "secret"},
            ("secrets",),
        ),
        ("aquasecurity/trivy-action@0.28.0", {"image-ref": "app", "scanners": "secret"}, ()),
        (
            "aquasecurity/trivy-action@0.28.0",
            {"scan-type": "config", "scanners": "misconfig"},
            ("iac",),
        ),
        (
            "aquasecurity/trivy-action@0.28.0",
            {"scan-type": "fs", "scanners": "${{ inputs.scanners }}"},
            ("sca", "secrets"),
        ),
        ("bridgecrewio/checkov-action@v12", {"framework": "secrets"}, ("secrets",)),
        ("bridgecrewio/checkov-action@v12", {"framework": "terraform,sca_package"}, ("iac", "sca")),
        ("returntocorp/semgrep-action@v1", {"config": "p/secrets"}, ("secrets",)),
        ("returntocorp/semgrep-action@v1", {"config": "p/ci\np/dockerfile"}, ("sast", "iac")),
        ("snyk/actions/node@master", {"command": "sbom"}, ()),
        ("docker/scout-action@v1", {"command": "sbom"}, ()),
        ("docker/scout-action@v1", {"command": "quickview,cves"}, ("container",)),
        ("embarkstudios/cargo-deny-action@v2", {"command": "check licenses"}, ()),
        ("embarkstudios/cargo-deny-action@v2", {}, ("sca",)),
    ],
)
def test_inputs_choose_what_an_action_scans(
    uses: str, inputs: dict[str, str], categories: tuple
) -> None:
    assert [c for _, c, _ in action(uses, **inputs)] == [categories]


def test_compiled_catalog_is_cached_on_the_tools_tuple() -> None:
    tools = default_catalog().tools
    assert compile_catalog(tools) is compile_catalog(tools)


@pytest.mark.parametrize(
    "entry",
    [
        "- {id: x, name: X, categories: [dast]}",
        "- {id: x, name: X, categories: [sast], actions: [{uses: a/b, categories: [sast], typo: 1}]}",
        "- {id: x, name: X, categories: [sast], commands: [{categories: [sast]}]}",
        "- {id: x, name: X, categories: [sast], extra: 1}",
        "- {id: x, name: X, categories: [sast], actions: [{uses: a/b, categories: [sast], blocking_inputs: {i: {}}}]}",
    ],
)
def test_tool_schema_rejects_malformed_entries(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text("tools:\n" + entry + "\n")
    with pytest.raises(GhappError, match="invalid rules catalog"):
        load_catalog([path])


def test_bad_regex_in_a_tool_is_a_clear_error() -> None:
    bad = (
        {
            "id": "x",
            "name": "X",
            "categories": ["sast"],
            "commands": [{"match": "(", "categories": ["sast"]}],
        },
    )
    with pytest.raises(GhappError, match="tool 'x': bad regex"):
        compile_catalog(bad)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"trivy_command": "config"}, (("iac",), False)),
        ({"trivy_command": "filesystem", "fail_on_error": "true"}, (("sca", "secrets"), True)),
    ],
)
def test_reviewdog_trivy_reports_without_failing_by_default(
    inputs: dict[str, str], expected: tuple
) -> None:
    ((tool, categories, blocking),) = action("reviewdog/action-trivy@v1", **inputs)
    assert (tool, (categories, blocking)) == ("trivy", expected)


def test_bandit_action_exit_zero_argument() -> None:
    assert action("PyCQA/bandit-action@v1", args="-r . --exit-zero") == [
        ("bandit", ("sast",), False)
    ]


def test_trivy_issue_action_scans_dependencies_without_failing() -> None:
    assert action("knqyf263/trivy-issue-action@v0.0.6", severity="CRITICAL") == [
        ("trivy", ("sca",), False)
    ]
