"""Comment commands: which lines are commands, how they split, what a typo gets back."""

from __future__ import annotations

from datetime import date

import pytest

from ghapp.core.commands import (
    COMMANDS,
    ClaimArgs,
    Command,
    Malformed,
    WaiveArgs,
    claim_args,
    help_text,
    parse_comment,
    waive_args,
)


def names(body: str) -> list[str]:
    return [c.name if isinstance(c, Command) else f"!{c.suggestion}" for c in parse_comment(body)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/help", ["help"]),
        ("  /owners src/a.py  ", ["owners"]),
        ("/recheck\r\n", ["recheck"]),
        ("Thanks!\n/owners\nand also\n/recheck", ["owners", "recheck"]),
        ("please run /owners for me", []),
        ("`/claim-ownership`", []),
        ("run `/help` to see the commands", []),
        ("> /claim-ownership @acme/x", []),
        ("   > quoted\n> /waive x", []),
        ("```\n/claim-ownership @acme/x\n```\n/help", ["help"]),
        ("~~~sh\n/recheck\n~~~", []),
        ("````\n```\n/recheck\n````\n/owners", ["owners"]),
        ("```\n/recheck never closed", []),
        ("    /recheck", []),
        ("\t/recheck", []),
        ("/services/foo/ is broken", []),
        ("/", []),
        ("", []),
    ],
)
def test_which_lines_are_commands(body: str, expected: list[str]) -> None:
    assert names(body) == expected


def test_none_body_has_no_commands() -> None:
    assert parse_comment(None) == ()


def test_command_keeps_its_line_number_and_text() -> None:
    (cmd,) = parse_comment("hello\n\n/owners a.py b.py")
    assert isinstance(cmd, Command)
    assert (cmd.line, cmd.args, cmd.text) == (3, ("a.py", "b.py"), "/owners a.py b.py")


@pytest.mark.parametrize(
    ("line", "args", "options", "flags"),
    [
        ("/owners", (), {}, set()),
        ("/owners `src/a b.py` docs", ("src/a b.py", "docs"), {}, set()),
        ('/owners "my dir/x"', ("my dir/x",), {}, set()),
        (
            '/waive scan/missing-sast --until 2030-01-31 --reason "legacy, replaced in Q1"',
            ("scan/missing-sast",),
            {"until": "2030-01-31", "reason": "legacy, replaced in Q1"},
            set(),
        ),
        (
            "/waive k8s/latest-tag payments --until=2030-01-31 --reason=ok --standing",
            ("k8s/latest-tag", "payments"),
            {"until": "2030-01-31", "reason": "ok"},
            {"standing"},
        ),
    ],
)
def test_arguments_options_and_flags(
    line: str, args: tuple[str, ...], options: dict[str, str], flags: set[str]
) -> None:
    (cmd,) = parse_comment(line)
    assert isinstance(cmd, Command)
    assert (cmd.args, dict(cmd.options), set(cmd.flags)) == (args, options, flags)


@pytest.mark.parametrize(
    ("line", "suggestion", "reason"),
    [
        ("/claim-ownershp services/foo", "claim-ownership", "unknown command"),
        ("/claim", "claim-ownership", "unknown command"),
        ("/owner src", "owners", "unknown command"),
        ("/waiver scan/x", "waive", "unknown command"),
        ("/rechek", "recheck", "unknown command"),
        ("/recheck now", "recheck", "wrong number of arguments"),
        ("/help me", "help", "wrong number of arguments"),
        ("/waive", "waive", "wrong number of arguments"),
        ("/waive a b c --until 2030-01-01 --reason x", "waive", "wrong number of arguments"),
        ("/waive scan/x --until", "waive", "--until needs a value"),
        ("/waive scan/x --force", "waive", "unknown option --force"),
        ('/owners "unclosed', "owners", "cannot split"),
        ("/zzzzzz", None, "unknown command"),
    ],
)
def test_malformed_commands_get_the_nearest_usage(
    line: str, suggestion: str | None, reason: str
) -> None:
    (bad,) = parse_comment(line)
    assert isinstance(bad, Malformed)
    assert bad.suggestion == suggestion
    assert reason in bad.reason
    expected_usage = COMMANDS[suggestion].usage if suggestion else help_text()
    assert bad.usage == expected_usage


def test_overlong_line_is_malformed_not_tokenised() -> None:
    (bad,) = parse_comment("/owners " + "a" * 5000)
    assert isinstance(bad, Malformed)
    assert "longer than" in bad.reason


def test_help_lists_every_command_once() -> None:
    text = help_text()
    assert [line.split("`")[1].split()[0] for line in text.splitlines()] == [
        f"/{name}" for name in COMMANDS
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/claim-ownership", ClaimArgs((), None)),
        ("/claim-ownership @acme/payments", ClaimArgs((), "@acme/payments")),
        (
            "/claim-ownership /services/foo/ payments @acme/pay.ments_2",
            ClaimArgs(("services/foo", "payments"), "@acme/pay.ments_2"),
        ),
    ],
)
def test_claim_arguments(line: str, expected: ClaimArgs) -> None:
    (cmd,) = parse_comment(line)
    assert isinstance(cmd, Command)
    assert claim_args(cmd) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/claim-ownership @alice", "not a team"),
        ("/claim-ownership @acme/a @acme/b", "one team"),
        ("/claim-ownership @acme/", "not a team"),
    ],
)
def test_claim_arguments_refused(line: str, reason: str) -> None:
    (cmd,) = parse_comment(line)
    assert isinstance(cmd, Command)
    bad = claim_args(cmd)
    assert isinstance(bad, Malformed)
    assert reason in bad.reason
    assert bad.suggestion == "claim-ownership"


def test_waive_arguments() -> None:
    (cmd,) = parse_comment(
        '/waive scan/missing-sast services/pay --until 2030-01-31 --reason "vendor code"'
    )
    assert isinstance(cmd, Command)
    assert waive_args(cmd) == WaiveArgs(
        "scan/missing-sast", "services/pay", date(2030, 1, 31), "vendor code", False
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/waive scan/x --reason because", "--until and --reason are required"),
        ("/waive scan/x --until 2030-01-01", "--until and --reason are required"),
        ('/waive scan/x --until 2030-01-01 --reason "  "', "--until and --reason are required"),
        ("/waive scan/x --until 31/01/2030 --reason r", "is not a date"),
        ("/waive Scan/X! --until 2030-01-01 --reason r", "is not a rule id"),
    ],
)
def test_waive_arguments_refused(line: str, reason: str) -> None:
    (cmd,) = parse_comment(line)
    assert isinstance(cmd, Command)
    bad = waive_args(cmd)
    assert isinstance(bad, Malformed)
    assert reason in bad.reason
