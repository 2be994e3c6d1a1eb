"""The evidence behind an ownership suggestion, and the score it adds up to.

Theory of operation. Three kinds of evidence name candidates (teams, and users who are in no
known team), each giving a candidate a part in 0..1:

- history (h): the commits of the last `since_days` days that touched the files, merges and
  bots left out. A commit weighs `recency * size`: recency halves every `since_days / 2` days,
  size is 1 + log2(1 + lines changed) (1 when the source cannot tell lines, like the API's
  commit list). A commit by someone in several teams is credited mostly to the smallest of
  them (in proportion to 1 / team size), so an umbrella team that contains every author does
  not beat the team that wrote the code. h is the credited weight over the weight of all the
  commits, times volume n / (n + 2): one commit is weak evidence, eleven are strong.
- neighbours (n): in the nearest directory at or above the files where CODEOWNERS says
  something, the owners a new file there would get (a rule such as `/services/*`), else the
  owners of the owned files directly in it; 0.8 per level climbed.
- manifests (m): the fraction of the files whose nearest service manifest names the candidate
  as owner (`group:default/payments` maps to the known team with slug `payments`).

The score combines them like independent witnesses, 1 - (1 - 0.9 h)(1 - 0.5 n)(1 - 0.6 m):
agreement raises it and no single kind reaches certainty. Evidence is kept as sentences.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ghapp.core.manifests.services import ServiceIndex, owner_team_slug, owner_user
from ghapp.core.model import OwnerSuggestion, Service
from ghapp.core.ownership.claim import OwnerTable
from ghapp.core.ownership.directory import People

HISTORY_WEIGHT, NEIGHBOUR_WEIGHT, MANIFEST_WEIGHT = 0.9, 0.5, 0.6
CLIMB = 0.8  # neighbour evidence kept per directory level climbed
MAX_SUGGESTIONS = 3
MIN_SCORE = 0.05  # a candidate below it is not listed at all
MIN_TOP_SCORE = 0.15  # a file's best candidate below it does not count for its directory
MAX_NAMED = 3  # authors named in a history sentence
PROBE = "new-file"  # a file name no rule is about: who would own a new file in a directory
_BOT_NAME = re.compile(r"\[bot\]|^(?:dependabot|renovate|github-actions|pre-commit-ci)\b", re.I)
_NOREPLY = re.compile(r"^(?:\d+\+)?([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)@users\.noreply\.github\.com$")


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One commit as a history source read it: who, when, and the lines changed per file
    (None when the source cannot tell, e.g. the API's commit list)."""

    sha: str
    when: datetime
    author_name: str = ""
    author_email: str = ""
    login: str | None = None  # the GitHub user, when the source knows it
    parents: int = 1
    bot: bool = False  # the source says so (the API's `author.type == "Bot"`)
    files: tuple[tuple[str, int | None], ...] = ()


def is_bot(record: CommitRecord) -> bool:
    """Dependabot, Renovate, GitHub Actions, pre-commit.ci and any `[bot]` account."""
    return (
        record.bot
        or bool(_BOT_NAME.search(record.author_name))
        or "[bot]" in record.author_email
        or bool(record.login and _BOT_NAME.search(record.login))
    )


def noreply_login(email: str) -> str | None:
    """The login in a GitHub no-reply address (`123+alice@users.noreply.github.com`)."""
    match = _NOREPLY.match(email.lower())
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class _Commit:
    weight: float  # recency only; size depends on which files are asked about
    login: str | None
    credits: tuple[tuple[str, float], ...]  # candidate -> share of the credit


Parts = dict[str, dict[str, float]]
Words = dict[str, list[str]]


class Evidence:
    """The three kinds of evidence, indexed once; `rank` turns them into suggestions."""

    def __init__(
        self,
        table: OwnerTable,
        owners: Mapping[str, tuple[str, ...]],
        history: Iterable[CommitRecord],
        wanted: set[str],
        people: People,
        services: Sequence[Service],
        now: datetime,
        since_days: int,
    ) -> None:
        self.table = table
        self.since_days = since_days
        self.names: dict[str, str] = {t.lower(): t for t in people.teams}
        self.teams = {t.lower() for t in people.teams}
        self.commits: list[_Commit] = []
        self.by_file: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
        self.unmapped: Counter[str] = Counter()
        credits = _credits(people)
        cutoff = now - timedelta(days=since_days)
        half_life = max(since_days / 2, 1.0)
        for record in history:
            if record.when < cutoff or record.parents > 1 or is_bot(record):
                continue
            touched = [(p, n) for p, n in record.files if p in wanted]
            if not touched:
                continue
            login = (
                record.login
                or people.login_for(record.author_email)
                or noreply_login(record.author_email)
            )
            login = login.lower() if login else None
            if login is None:
                self.unmapped[record.author_email.lower() or record.author_name] += 1
            age = max((now - record.when).total_seconds() / 86400, 0.0)
            mine = credits.get(login, ((f"@{login}", 1.0),)) if login else ()
            self.commits.append(_Commit(0.5 ** (age / half_life), login, mine))
            for path, lines in touched:
                self.by_file[path].append((len(self.commits) - 1, lines))
        self.direct: dict[str, Counter[str]] = defaultdict(Counter)  # owned files directly in
        for path, found in owners.items():
            for owner in found:
                self.direct[_parent(path)][owner.lower()] += 1
                self.names.setdefault(owner.lower(), owner)
        self.services = ServiceIndex(services)
        self.team_by_slug: dict[str, str] = {}
        for key, name in sorted(self.names.items()):
            slug = owner_team_slug(name) if "/" in key else None
            if slug is not None:
                self.team_by_slug.setdefault(slug, name)
        self._handles: dict[str, str | None] = {}
        self._probes: dict[str, tuple[tuple[str, ...], int, str] | None] = {}

    def top(self, paths: Sequence[str], start: str) -> str | None:
        """The best candidate's key (lower-case), without writing the evidence down; None when
        even the best is weak (one commit of twenty): a directory's line is not proposed on
        such evidence."""
        ranked = self.rank(paths, start, sentences=False)
        return ranked[0].owner.lower() if ranked and ranked[0].score >= MIN_TOP_SCORE else None

    def rank(
        self, paths: Sequence[str], start: str, *, sentences: bool = True
    ) -> tuple[OwnerSuggestion, ...]:
        """Candidates for `paths` (a file, or the files below directory `start`), best first."""
        parts: Parts = defaultdict(dict)
        words: Words = defaultdict(list)
        self._history(paths, parts, words, sentences)
        self._neighbours(start, parts, words, sentences)
        self._manifests(paths, parts, words, sentences)
        out = []
        for key, got in parts.items():
            miss = (
                (1 - HISTORY_WEIGHT * got.get("h", 0.0))
                * (1 - NEIGHBOUR_WEIGHT * got.get("n", 0.0))
                * (1 - MANIFEST_WEIGHT * got.get("m", 0.0))
            )
            if 1 - miss >= MIN_SCORE:  # two decimals: what people read, and what JSON keeps
                score = round(1 - miss, 2)
                out.append(OwnerSuggestion(self.names.get(key, key), score, tuple(words[key])))
        out.sort(key=lambda s: (-s.score, s.owner.lower()))
        return tuple(out[:MAX_SUGGESTIONS])

    def _history(self, paths: Sequence[str], parts: Parts, words: Words, sentences: bool) -> None:
        lines_of: dict[int, int | None] = {}  # commit -> lines changed in `paths`
        for path in paths:
            for index, lines in self.by_file.get(path, ()):
                if index not in lines_of:
                    lines_of[index] = lines
                else:
                    known = lines_of[index]
                    lines_of[index] = None if known is None or lines is None else known + lines
        if not lines_of:
            return
        weight = {
            i: self.commits[i].weight * (1.0 if n is None else 1 + math.log2(1 + n))
            for i, n in lines_of.items()
        }
        total = sum(weight.values())
        credited: dict[str, float] = defaultdict(float)
        commits_by: dict[str, list[int]] = defaultdict(list)
        for index in lines_of:
            for candidate, share in self.commits[index].credits:
                credited[candidate] += weight[index] * share
                commits_by[candidate].append(index)
        count = len(lines_of)
        for key, indexes in commits_by.items():
            parts[key]["h"] = credited[key] / total * count / (count + 2)
            if sentences:
                words[key].append(self._history_sentence(key, indexes, lines_of))

    def _history_sentence(
        self, key: str, indexes: list[int], lines_of: Mapping[int, int | None]
    ) -> str:
        who = self.names.get(key, key)
        text = f"{len(indexes)} of {len(lines_of)} commits in the last {self.since_days} days by "
        if key in self.teams:
            authors = Counter(self.commits[i].login for i in indexes)
            named = [a for a, _ in authors.most_common() if a]
            more = f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
            text += f"members of {who} ({', '.join(named[:MAX_NAMED])}{more})"
        else:
            text += who
        if all(n is not None for n in lines_of.values()):
            mine = sum(lines_of[i] or 0 for i in indexes)
            text += f", {mine:,} of {sum(n or 0 for n in lines_of.values()):,} lines changed"
        return text

    def _neighbours(self, start: str, parts: Parts, words: Words, sentences: bool) -> None:
        directory, climbed = start, 0
        while True:
            where = f"{directory}/" if directory else "the repository root"
            probe = self._probe(directory)
            if probe is not None:
                found, line, pattern = probe
                for owner in found:
                    parts[owner.lower()]["n"] = CLIMB**climbed
                    if sentences:
                        words[owner.lower()].append(
                            f"a new file in {where} would be owned by {owner} "
                            f"(CODEOWNERS line {line}: {pattern})"
                        )
                return
            direct = self.direct.get(directory)
            if direct:
                total = sum(direct.values())
                for key, count in direct.items():
                    parts[key]["n"] = count / total * CLIMB**climbed
                    if sentences:
                        words[key].append(
                            f"owns {count} of {total} owned files directly in {where}"
                        )
                return
            if not directory:
                return
            directory, climbed = _parent(directory), climbed + 1

    def _probe(self, directory: str) -> tuple[tuple[str, ...], int, str] | None:
        """The owners (and deciding line) of a new file directly in `directory`."""
        if directory not in self._probes:
            match = self.table.owners_of(f"{directory}/{PROBE}" if directory else PROBE)
            found = tuple(match.owners) if match is not None else ()
            for owner in found:
                self.names.setdefault(owner.lower(), owner)
            self._probes[directory] = (
                (found, match.line, match.pattern) if match and found else None
            )
        return self._probes[directory]

    def _manifests(self, paths: Sequence[str], parts: Parts, words: Words, sentences: bool) -> None:
        found: dict[str, list[Service]] = defaultdict(list)
        counts: Counter[str] = Counter()
        for path in paths:
            service = self.services.service_of(path)
            owner = self._handle(service.owner) if service and service.owner else None
            if service is None or owner is None:
                continue
            counts[owner] += 1
            if service not in found[owner]:
                found[owner].append(service)
        for key, count in counts.items():
            parts[key]["m"] = count / len(paths)
            if sentences:
                named = ", ".join(f"{s.name} ({s.manifest})" for s in found[key][:MAX_NAMED])
                noun = "service" if len(found[key]) == 1 else "services"
                words[key].append(f"owner of {noun} {named}")

    def _handle(self, owner: str) -> str | None:
        """A manifest owner as a candidate key (lower-case): `group:default/payments` -> the
        known team with slug `payments`; `user:alice` -> `@alice`; handles and emails as is."""
        if owner not in self._handles:
            text = owner.strip()
            handle: str | None = None
            if text.startswith("@") or ("@" in text and "." in text.split("@", 1)[1]):
                handle = text
            elif (slug := owner_team_slug(text)) is not None:
                handle = self.team_by_slug.get(slug)
            elif (user := owner_user(text)) is not None:
                handle = f"@{user}"
            if handle is not None:
                self.names.setdefault(handle.lower(), handle)
            self._handles[owner] = handle.lower() if handle else None
        return self._handles[owner]


def _credits(people: People) -> dict[str, tuple[tuple[str, float], ...]]:
    """Per login, its teams and the share of a commit's credit each gets (1 / team size,
    normalised): the smallest, most specific team gets the most."""
    teams_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for team, members in people.teams.items():
        for member in set(m.lower() for m in members):
            teams_of[member].append((team.lower(), len(set(members))))
    out = {}
    for login, teams in teams_of.items():
        total = sum(1 / size for _, size in teams)
        out[login] = tuple((team, (1 / size) / total) for team, size in sorted(teams))
    return out


def _parent(path: str) -> str:
    return path.rpartition("/")[0]
