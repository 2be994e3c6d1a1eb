"""Workflow parsing: triggers in every `on:` shape, filters, jobs and steps with lines, local
reusable workflows, GitHub's filter globs and what an `if:` can say about the event."""

from __future__ import annotations

import pytest

from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.parsing import (
    Trigger,
    expand_steps,
    filter_matches,
    fires_for_pull_request,
    is_workflow_path,
    load_workflows,
    may_run,
    parse_workflow,
)

JOBS = "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n"


@pytest.mark.parametrize(
    ("on", "events"),
    [
        ("on: push\n", ["push"]),
        ("on: [push, pull_request]\n", ["push", "pull_request"]),
        (
            "on:\n  pull_request:\n  schedule:\n    - cron: '0 0 * * *'\n",
            ["pull_request", "schedule"],
        ),
        ("'on': merge_group\n", ["merge_group"]),
        (
            "on:\n  workflow_call:\n    inputs: {}\n  workflow_dispatch:\n",
            ["workflow_call", "workflow_dispatch"],
        ),
    ],
)
def test_on_as_string_list_or_mapping(on: str, events: list[str]) -> None:
    wf = parse_workflow(".github/workflows/x.yml", on + JOBS)
    assert wf.error is None
    assert [t.event for t in wf.triggers] == events


def test_trigger_filters_and_lines() -> None:
    text = (
        "on:\n  pull_request:\n    branches: [main]\n    paths: ['src/**', '!src/docs/**']\n"
        "    types: [opened]\n  push:\n    paths-ignore: docs/**\n" + JOBS
    )
    wf = parse_workflow(".github/workflows/x.yml", text)
    pr = wf.trigger("pull_request")
    assert pr == Trigger(
        "pull_request", 2, ("main",), None, ("src/**", "!src/docs/**"), None, ("opened",)
    )
    push = wf.trigger("push")
    assert push is not None and push.paths_ignore == ("docs/**",)


def test_steps_keep_lines_inputs_and_flags() -> None:
    text = (
        "on: push\njobs:\n  scan:\n    if: github.event_name == 'push'\n    continue-on-error: true\n"
        "    container: {image: 'returntocorp/semgrep'}\n    steps:\n"
        "      - name: trivy\n        uses: aquasecurity/trivy-action@v1\n        if: always()\n"
        "        continue-on-error: false\n        with:\n          exit-code: 1\n          soft: true\n"
        "      - run: |\n          make\n        shell: bash\n"
    )
    wf = parse_workflow(".github/workflows/x.yml", text)
    (job,) = wf.jobs
    assert (job.id, job.line, job.if_, job.continue_on_error) == (
        "scan",
        3,
        "github.event_name == 'push'",
        "true",
    )
    assert job.container_image == "returntocorp/semgrep"
    first, second = job.steps
    assert (first.line, first.uses_line, first.if_, first.continue_on_error) == (
        8,
        9,
        "always()",
        "false",
    )
    assert first.with_ == {"exit-code": "1", "soft": "true"}
    assert first.with_lines == {"exit-code": 13, "soft": 14}
    assert (second.run, second.run_line, second.shell) == ("make\n", 15, "bash")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("on: [push\n", "invalid YAML"),
        ("- a\n", "no mapping"),
        ("name: x\njobs: {}\n", "no `on:`"),
        ("on: push\njobs: [a]\n", "no `jobs:`"),
    ],
)
def test_unreadable_workflows_carry_an_error(text: str, error: str) -> None:
    wf = parse_workflow(".github/workflows/x.yml", text)
    assert wf.error is not None and error in wf.error
    assert wf.jobs == ()


@pytest.mark.parametrize(
    ("path", "is_workflow"),
    [
        (".github/workflows/ci.yml", True),
        (".github/workflows/ci.yaml", True),
        (".github/workflows/sub/ci.yml", False),
        (".github/workflows/README.md", False),
        ("workflows/ci.yml", False),
    ],
)
def test_only_top_level_yaml_in_the_workflows_folder_counts(path: str, is_workflow: bool) -> None:
    assert is_workflow_path(path) is is_workflow


def test_local_reusable_workflows_are_followed_and_cycles_cut() -> None:
    caller = "on: pull_request\njobs:\n  call:\n    uses: ./.github/workflows/b.yml\n"
    callee = (
        "on: workflow_call\njobs:\n  scan:\n    steps:\n      - run: gitleaks detect\n"
        "  again:\n    uses: ./.github/workflows/a.yml\n"
    )
    snap = DictSnapshot({".github/workflows/a.yml": caller, ".github/workflows/b.yml": callee})
    workflows = {w.path: w for w in load_workflows(snap)}
    uses = list(expand_steps(workflows[".github/workflows/a.yml"], workflows))
    assert [(u.workflow.path, [j.id for j in u.jobs], u.step.run) for u in uses] == [
        (".github/workflows/b.yml", ["call", "scan"], "gitleaks detect")
    ]


@pytest.mark.parametrize(
    ("patterns", "path", "selected"),
    [
        (["src/**"], "src/a/b.py", True),
        (["src/*"], "src/a/b.py", False),
        (["*.py"], "a.py", True),
        (["*.py"], "src/a.py", False),
        (["**.py"], "src/a.py", True),
        (["**/README.md"], "README.md", True),
        (["docs/**", "!docs/internal/**"], "docs/internal/x.md", False),
        (["!docs/**", "docs/a.md"], "docs/a.md", True),
        (["*.ya?ml"], "ci.yml", True),
        (["ver+sion"], "verrrsion", True),
        (["[abc].txt"], "b.txt", True),
        (["kubernetes/**"], "kubernetes/deploy.yaml", True),
    ],
)
def test_github_filter_globs(patterns: list[str], path: str, selected: bool) -> None:
    assert filter_matches(patterns, path) is selected


@pytest.mark.parametrize(
    ("trigger", "paths", "fires"),
    [
        (Trigger("pull_request", 1), None, True),
        (Trigger("pull_request_target", 1), ["a"], True),
        (Trigger("push", 1), None, False),
        (Trigger("schedule", 1), None, False),
        (Trigger("pull_request", 1, types=("closed",)), None, False),
        (Trigger("pull_request", 1, types=("labeled", "synchronize")), None, True),
        (Trigger("pull_request", 1, branches=("release/*",)), None, True),
        (Trigger("pull_request", 1, paths=("k8s/**",)), None, True),
        (Trigger("pull_request", 1, paths=("k8s/**",)), ["src/a.py"], False),
        (Trigger("pull_request", 1, paths=("k8s/**",)), ["src/a.py", "k8s/d.yaml"], True),
        (Trigger("pull_request", 1, paths_ignore=("docs/**",)), ["docs/a.md"], False),
        (Trigger("pull_request", 1, paths_ignore=("docs/**",)), ["docs/a.md", "x.py"], True),
        (Trigger("merge_group", 1), None, True),
    ],
)
def test_pull_request_triggers_honour_types_and_path_filters(
    trigger: Trigger, paths: list[str] | None, fires: bool
) -> None:
    assert fires_for_pull_request(trigger, paths) is fires


@pytest.mark.parametrize(
    ("condition", "event", "runs"),
    [
        (None, "pull_request", True),
        ("github.event_name != 'pull_request'", "pull_request", False),
        ("${{ github.event_name != 'pull_request' }}", "push", True),
        ("github.event_name == 'push' || github.event_name == 'schedule'", "pull_request", False),
        (
            "github.event_name == 'pull_request' || github.event_name == 'merge_group'",
            "merge_group",
            True,
        ),
        ("github.event_name != 'pull_request' && env.SONAR_TOKEN != ''", "pull_request", False),
        ("github.event_name == 'Pull_Request'", "pull_request", True),
        ("github.repository == 'gitleaks/gitleaks'", "pull_request", True),
        ("github.ref == 'refs/heads/main'", "pull_request", False),
        ("startsWith(github.ref, 'refs/tags/')", "pull_request", False),
        ("!(github.event_name == 'pull_request')", "pull_request", False),
        ("always()", "pull_request", True),
        ("failure() && steps.x.outcome == 'failure'", "pull_request", True),
        ("contains(github.event.pull_request.labels.*.name, 'skip')", "pull_request", True),
        ("this is ((( not an expression", "pull_request", True),
    ],
)
def test_if_conditions_exclude_an_event_only_when_certainly_false(
    condition: str | None, event: str, runs: bool
) -> None:
    assert may_run(condition, event) is runs
