"""Running comment commands (and the check-run buttons that share them) against GitHub.

`CommandHandler` knows the command semantics; everything it does to GitHub goes through the
small `CommandPort` protocol (ghapp.commands.port, with the invocation, facts and results it
passes around), every decision is written to the `AuditLog`, and authorisation asks
`Access` (team membership, repository permission), never the comment text.

Replies are markdown a commenter partly wrote (paths, team names, reasons, unknown commands), so
every such piece goes through ghapp.render.escape: as code, or as inert text; only owners read
from the base branch's CODEOWNERS (and the commenter's own login) are live mentions.

Flow of a comment: ignore unless `created`, on a pull request, by a human other than ghapp;
parse; no command means no reaction at all. Otherwise react `eyes`, run each command in order,
post one reply that answers all of them, and react `+1` (all accepted), `-1` (one refused) or
`confused` (one malformed or failed). Side effects are keyed on the comment id (the claim
branch is `ghapp/claim-<comment id>`), so a redelivered comment finds the branch and the pull
request it already opened instead of opening another.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ghapp.commands.audit import AuditEntry, AuditLog, waiver_data
from ghapp.commands.authz import Access, Decision, authorize, command_rules, team_org, team_slug
from ghapp.commands.port import (
    CommandPort,
    CommandsConfig,
    Facts,
    Invocation,
    PullInfo,
    Recheck,
    Result,
    say,
)
from ghapp.commands.suggest import pr_suggestions, suggested_teams, suggestions_reply, teams_of
from ghapp.core.catalog import Catalog
from ghapp.core.commands import (
    Command,
    Malformed,
    claim_args,
    help_text,
    parse_comment,
    waive_args,
)
from ghapp.core.errors import GhappError
from ghapp.core.manifests.services import ServiceIndex, discover_services
from ghapp.core.ownership.claim import ClaimRefused
from ghapp.core.ownership.claimplan import ClaimPlan, plan_claim
from ghapp.core.ownership.codeowners import CodeOwners, find_codeowners
from ghapp.core.ownership.suggest import Suggestions
from ghapp.core.ownership.yamledits import plan_standing_waiver
from ghapp.core.policy.policy import Waiver
from ghapp.core.snapshot import Snapshot
from ghapp.github.errors import GitHubError, RetryableError
from ghapp.render.escape import code, mention, text

REPLY_MARKER = "<!-- ghapp:command-reply -->"
MAX_LISTED = 50  # /owners rows before "and N more"
MAX_COMMANDS = 10  # per comment; the rest are not run (a paste of a log is not ten claims)
MAX_TEAM_LOOKUPS = 20  # candidate teams checked when /claim-ownership names none


class CommandHandler:
    """Executes commands: parse, authorise, act, reply, react, audit."""

    def __init__(
        self,
        port: CommandPort,
        access: Access,
        audit: AuditLog,
        *,
        catalog: Catalog,
        clock: Callable[[], datetime],
        recheck: Recheck,
        commands_config: CommandsConfig | None = None,
        app_login: str = "ghapp[bot]",
    ) -> None:
        self.port = port
        self.access = access
        self.audit = audit
        self.catalog = catalog
        self.clock = clock
        self.recheck = recheck
        self.commands_config = commands_config
        self.app_login = app_login.lower()

    # --- entry points ---------------------------------------------------------------------

    async def on_comment(self, payload: Mapping[str, Any], installation_id: int | None) -> int:
        """Handle an `issue_comment` delivery; how many commands ran."""
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        sender = payload.get("sender") or {}
        if payload.get("action") != "created" or not issue.get("pull_request"):
            return 0
        login = str(sender.get("login") or (comment.get("user") or {}).get("login") or "")
        if self._is_bot(sender, login):
            return 0
        commands = parse_comment(comment.get("body"))[:MAX_COMMANDS]
        if not commands:
            return 0
        repo = str((payload.get("repository") or {}).get("full_name"))
        comment_id = int(comment["id"])
        inv = Invocation(
            repo,
            int(issue["number"]),
            login,
            installation_id,
            f"comment:{comment_id}",
            str(comment_id),
            comment_id,
        )
        await self._react(repo, comment_id, "eyes")
        facts = Facts(self.port, inv, self.commands_config)
        results = [
            await self.run(inv, cmd, i, len(commands), facts) for i, cmd in enumerate(commands)
        ]
        replies = [r.reply for r in results if r.reply]
        if replies:
            await self.port.reply(repo, inv.pr, "\n\n".join([REPLY_MARKER, *replies]))
        await self._react(repo, comment_id, _reaction(results))
        return len(commands)

    async def on_requested_action(
        self, payload: Mapping[str, Any], installation_id: int | None
    ) -> Result | None:
        """Handle a check-run button (`claim-unowned`, `recheck`) like the matching command."""
        identifier = str((payload.get("requested_action") or {}).get("identifier", ""))
        name = {"claim-unowned": "claim-ownership", "recheck": "recheck"}.get(identifier)
        run = payload.get("check_run") or {}
        prs = run.get("pull_requests") or []
        sender = payload.get("sender") or {}
        login = str(sender.get("login", ""))
        if name is None or not prs or self._is_bot(sender, login):
            return None
        repo = str((payload.get("repository") or {}).get("full_name"))
        pr = int(prs[0]["number"])
        # Keyed on the PR head: a double click on the same commit reuses the first claim's PR.
        key = f"pr{pr}-{str(run.get('head_sha', ''))[:12]}"
        inv = Invocation(repo, pr, login, installation_id, f"check_run:{run.get('id')}", key)
        result = await self.run(inv, Command(name, text=f"[{identifier}] button"))
        if result.reply:  # no comment to react to: the answer is a PR comment
            await self.port.reply(repo, pr, f"{REPLY_MARKER}\n\n{result.reply}")
        return result

    async def run(
        self,
        inv: Invocation,
        command: Command | Malformed,
        index: int = 0,
        count: int = 1,
        facts: Facts | None = None,
    ) -> Result:
        """Run one command and audit it (whatever the outcome)."""
        facts = facts or Facts(self.port, inv, self.commands_config)
        try:
            result = await self._dispatch(inv, command, index, facts)
        except RetryableError:
            raise  # the queue retries the delivery; side effects are keyed, so that is safe
        except (GhappError, GitHubError) as exc:
            result = Result("failed", say(command, f"could not run it: {text(exc)}"), str(exc))
        name = command.name if isinstance(command, Command) else command.text.split()[0][1:]
        args = command.args if isinstance(command, Command) else ()
        self.audit.record(
            AuditEntry(
                actor=inv.actor,
                at=self.clock(),
                repository=inv.repo,
                pr=inv.pr,
                command=name,
                arguments=tuple(args),
                outcome=result.outcome,
                detail=result.detail,
                source=inv.source + (f"#{index + 1}" if count > 1 else ""),
                data=result.data,
            )
        )
        return result

    # --- commands -------------------------------------------------------------------------

    async def _dispatch(
        self, inv: Invocation, command: Command | Malformed, index: int, facts: Facts
    ) -> Result:
        if isinstance(command, Malformed):
            usage = f"Usage: `{command.usage}`" if command.suggestion else command.usage
            return Result.malformed(command, command.reason, usage)
        if command.name == "help":
            return Result("accepted", f"**Commands**\n{help_text()}")
        if command.name == "recheck":
            await self.recheck(inv.repo, inv.pr, inv.installation_id)
            return Result("accepted", None, "re-evaluation requested")
        if command.name == "owners" and command.args[:1] == ("suggest",):
            return await self._owner_suggestions(inv, command, facts)
        if command.name == "owners":
            return await self._owners(command, facts)
        if command.name == "waive":
            return await self._waive(inv, command, index, facts)
        return await self._claim(inv, command, index, facts)

    async def _owners(self, command: Command, facts: Facts) -> Result:
        base = await facts.base()
        paths = list(command.args) or list(await facts.changed())
        found = find_codeowners(base)
        table = CodeOwners.from_text(found.text or "") if found else CodeOwners.from_text("")
        services = ServiceIndex(discover_services(base, self.catalog)[0])
        existing = set(base.paths())
        rows = []
        for path in paths[:MAX_LISTED]:
            path = path.strip("/")
            match = table.owners_of(path)
            service = services.service_of(path)
            # Base-branch CODEOWNERS owners are ghapp's to mention; a manifest's owner is not.
            owners = " ".join(map(mention, match.owners)) if match and match.owners else "nobody"
            if match is not None and found is not None:
                pattern = code(match.pattern, in_table=True)
                why = f"{code(found.path, in_table=True)} line {match.line} {pattern}"
            elif service is not None and service.owner:
                owners = code(service.owner, in_table=True)
                manifest = code(service.manifest, in_table=True)
                why = f"{manifest} `spec.owner` (no CODEOWNERS rule matches)"
            else:
                why = "no CODEOWNERS rule matches"
            note = (
                ""
                if path in existing or any(p.startswith(path + "/") for p in existing)
                else " (not on the base branch)"
            )
            svc = f" (service {code(service.name, in_table=True)})" if service else ""
            rows.append(f"| {code(path, in_table=True)}{note} | {owners} | {why}{svc} |")
        more = f"\n… and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
        body = "\n".join(["**Owners**", "| path | owners | decided by |", "|---|---|---|", *rows])
        return Result("accepted", (body if rows else "**Owners**: no paths to look up.") + more)

    async def _owner_suggestions(self, inv: Invocation, command: Command, facts: Facts) -> Result:
        paths = [p.strip("/") for p in command.args[1:]]
        found = await self._suggestions(inv, facts, paths)
        reply = suggestions_reply(found, paths or list(await facts.changed()))
        return Result("accepted", reply, f"{len(found.groups)} suggestion group(s)")

    async def _suggestions(
        self, inv: Invocation, facts: Facts, paths: Sequence[str]
    ) -> Suggestions:
        pull, base, changed = await facts.pull(), await facts.base(), await facts.changed()
        return await pr_suggestions(
            self.port, inv.repo, pull.head_sha, base, changed, paths, self.catalog, self.clock()
        )

    async def _waive(self, inv: Invocation, command: Command, index: int, facts: Facts) -> Result:
        args = waive_args(command)
        if isinstance(args, Malformed):
            return Result.malformed(command, args.reason, f"Usage: `{args.usage}`")
        decision = await self._authorize(inv, "waive", None, facts)
        if not decision.allowed:
            return Result("refused", say(command, text(decision.reason)), decision.reason)
        today = self.clock().date()
        if args.until < today:
            why = f"--until {args.until.isoformat()} is in the past"
            return Result("refused", say(command, why), why)
        known = self.catalog.rules
        if args.rule not in known and not (
            args.rule.endswith("/") and any(r.startswith(args.rule) for r in known)
        ):
            close = difflib.get_close_matches(args.rule, list(known), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            why = f"unknown rule {args.rule!r}{hint}"
            said = f"unknown rule {code(args.rule)}{hint}"
            return Result("refused", say(command, said), why)
        pull, base = await facts.pull(), await facts.base()
        services = {s.name for s in discover_services(base, self.catalog)[0]}
        target = args.target
        path = None
        if target and target not in services:
            # A directory waives everything below it (waiver paths are globs).
            is_dir = any(p.startswith(f"{target}/") for p in base.paths())
            path = f"{target}/**" if is_dir else target
        waiver = Waiver(
            rule=args.rule,
            reason=args.reason,
            approved_by=f"@{inv.actor}",
            until=args.until,
            service=target if target in services else None,
            path=path,
        )
        scope = f" for {target}" if target else ""
        shown_scope = f" for {code(target)}" if target else ""
        if not args.standing:
            await self.recheck(inv.repo, inv.pr, inv.installation_id)
            said = (
                f"Waived {code(args.rule)}{shown_scope} on this pull request until "
                f"{args.until.isoformat()} (approved by {mention('@' + inv.actor)}: "
                f"{text(args.reason)}). The check is being re-run."
            )
            return Result("accepted", say(command, said), "pr waiver", waiver_data(waiver))
        edit = await asyncio.to_thread(plan_standing_waiver, base, waiver)
        branch = f"ghapp/waive-{inv.key}" + (f"-{index + 1}" if index else "")
        title = f"Waive {args.rule}{scope} until {args.until.isoformat()}"
        body = (
            f"Requested by {mention('@' + inv.actor)} in #{inv.pr}: {text(args.reason)}\n\n"
            f"Adds a standing waiver to {code(edit.path)}; it applies once this is merged."
        )
        url = await self._open_pr(inv, branch, pull, {edit.path: edit.text}, title, body)
        data = {**waiver_data(waiver), "standing": True, "pull": url, "branch": branch}
        return Result(
            "accepted", say(command, f"Opened {url} with the standing waiver."), url, data
        )

    async def _claim(self, inv: Invocation, command: Command, index: int, facts: Facts) -> Result:
        args = claim_args(command)
        if isinstance(args, Malformed):
            return Result.malformed(command, args.reason, f"Usage: `{args.usage}`")
        pull, base = await facts.pull(), await facts.base()
        team: str | Result | None = args.team
        inferred = ""
        if team is None and not args.targets:  # the unowned files: who history suggests
            team, inferred = await self._suggested_team(inv, command, facts)
        team = team or await self._infer_team(inv, base)
        if isinstance(team, Result):
            return team
        if team_org(team).lower() == inv.repo.split("/", 1)[0].lower() and not (
            await self.port.team_exists(team_org(team), team_slug(team))
        ):
            why = f"team {team} is unknown (check the spelling: @org/team-slug)"
            said = f"team {code(team)} is unknown (check the spelling: `@org/team-slug`)"
            return Result("refused", say(command, said), why)
        decision = await self._authorize(inv, "claim-ownership", team, facts)
        if not decision.allowed:
            return Result("refused", say(command, text(decision.reason)), decision.reason)
        changed = await facts.changed()
        try:
            plan = await asyncio.to_thread(
                plan_claim, base, self.catalog, args.targets, team, changed
            )
        except ClaimRefused as exc:
            return Result("refused", say(command, text(exc)), str(exc))
        branch = f"ghapp/claim-{inv.key}" + (f"-{index + 1}" if index else "")
        url = await self._open_pr(inv, branch, pull, plan.files, plan.title, _claim_body(plan, inv))
        data = {
            "team": team,
            "pull": url,
            "branch": branch,
            "files": len(plan.claimed),
            "changes": list(plan.changes),
        }
        # `url` is the pull request GitHub just opened for us: a link worth keeping live.
        reply = f"Opened {url} to make {code(team)} the owner of {text(plan.summary)}."
        if inferred:
            reply += f"\n- {inferred}"
        if plan.notes:
            reply += "\n" + "\n".join(f"- {text(n)}" for n in plan.notes)
        return Result("accepted", say(command, reply), url, data)

    # --- helpers --------------------------------------------------------------------------

    async def _authorize(
        self, inv: Invocation, name: str, team: str | None, facts: Facts
    ) -> Decision:
        rule = command_rules(await facts.commands())[name]
        return await authorize(name, inv.actor, inv.repo, rule, self.access, team)

    async def _suggested_team(
        self, inv: Invocation, command: Command, facts: Facts
    ) -> tuple[str | Result | None, str]:
        """The one suggested team the commenter is in (None when in none), and why."""
        org = inv.repo.split("/", 1)[0]
        suggested = suggested_teams(await self._suggestions(inv, facts, ()), org)
        mine = await teams_of(self.access, org, inv.actor, suggested)
        if len(mine) == 1:
            return mine[0], f"{code(mine[0])} is suggested for these files and you are in it."
        if not mine:
            return None, ""
        teams = ", ".join(code(t) for t in mine)  # resolved handles, shown without a ping
        why = (
            f"you are in several teams suggested for these files ({teams}); name one: "
            "`/claim-ownership @org/team`"
        )
        return Result("refused", say(command, why), why), ""

    async def _infer_team(self, inv: Invocation, base: Snapshot) -> str | Result:
        """The commenter's team when unambiguous: of the repository org's teams named in
        CODEOWNERS, the one (and only one) the commenter is an active member of."""
        found = find_codeowners(base)
        org = inv.repo.split("/", 1)[0].lower()
        rules = CodeOwners.from_text(found.text or "").rules if found else ()
        named = {o for r in rules for o in r.owners if "/" in o and team_org(o).lower() == org}
        mine = [
            t
            for t in sorted(named)[:MAX_TEAM_LOOKUPS]
            if await self.access.is_member(org, team_slug(t), inv.actor)
        ]
        if len(mine) == 1:
            return mine[0]
        usage = "`/claim-ownership [PATH-OR-SERVICE ...] @org/team`"
        if mine:
            why = f"you are in several teams that own code here ({', '.join(mine)})"
            said = f"you are in several teams that own code here ({', '.join(map(code, mine))})"
        else:
            why = said = "you are in none of the teams named in CODEOWNERS"
        why = f"could not tell which team to claim for: {why}. Name one: {usage}"
        said = f"could not tell which team to claim for: {said}. Name one: {usage}"
        return Result("refused", f"**`/claim-ownership`**: {said}", why)

    async def _open_pr(
        self,
        inv: Invocation,
        branch: str,
        pull: PullInfo,
        files: Mapping[str, str],
        title: str,
        body: str,
    ) -> str:
        """Open (or find again) the PR that carries `files` on `branch`, never touching base."""
        port, repo = self.port, inv.repo
        if await port.branch_sha(repo, branch) is not None:
            existing = await port.find_pull(repo, branch)
            if existing is not None:
                return existing
        else:
            await port.create_branch(repo, branch, pull.base_sha)
        for path, content in files.items():
            current = await port.file_on_branch(repo, path, branch)
            if current is not None and current[0] == content:
                continue  # written by an earlier attempt of this same command
            message = f"{title}\n\nRequested by @{inv.actor} ({inv.source})."
            sha = current[1] if current else None
            await port.put_file(repo, path, branch, content, message, sha)
        return await port.find_pull(repo, branch) or await port.open_pull(
            repo, branch, pull.base_ref, title, body
        )

    async def _react(self, repo: str, comment_id: int, content: str) -> None:
        try:
            await self.port.react(repo, comment_id, content)
        except RetryableError:
            raise
        except GitHubError:
            pass  # the comment was deleted meanwhile: the command still runs and is answered

    def _is_bot(self, sender: Mapping[str, Any], login: str) -> bool:
        return (
            sender.get("type") == "Bot"
            or login.endswith("[bot]")
            or login.lower() == self.app_login
        )


def _reaction(results: Sequence[Result]) -> str:
    """`confused` when a command was malformed or failed, `-1` when one was refused, else `+1`."""
    if any(r.outcome == "failed" or r.data.get("malformed") for r in results):
        return "confused"
    return "-1" if any(r.outcome == "refused" for r in results) else "+1"


def _claim_body(plan: ClaimPlan, inv: Invocation) -> str:
    lines = [
        f"Requested by {mention('@' + inv.actor)} in #{inv.pr} ({text(inv.source)}).",
        "",
        f"Makes the team the owner of {text(plan.summary)}. Edits:",
        *(f"- {text(c)}" for c in plan.changes),
        "",
        "Checked before opening: every claimed file resolves to the team, and every other file "
        "resolves exactly as it does on the base branch.",
    ]
    return "\n".join(lines)
