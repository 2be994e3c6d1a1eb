"""What a workflow runs from elsewhere: actions and reusable workflows not pinned to a commit
SHA (`workflow/unpinned-action`, `workflow/unpinned-github-action`) and every secret handed to
another repository's workflow (`workflow/secrets-inherit`).

Third-party refs are `workflow/unpinned-action` (warning); GitHub's own `actions/*` and
`github/*` the lower `workflow/unpinned-github-action` (notice). Local `./` actions are fine, and
so is `docker://image@sha256:…`. Actions that must be referenced by tag (the policy's
`tag_pinned_actions`, by default the SLSA generator's reusable workflows) are never reported,
nor are tag refs the repository's zizmor config accepts (`ref-pin`/`any` policies).
The finding's subject is the action without its ref, so bumping `@v6` to `@v7` is not new.
No `suggestion`: the right SHA cannot be known offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows.parsing import Workflow
from ghapp.core.workflows.zizmor import ZizmorConfig, accepts_ref, read_config

_SHA = re.compile(r"[0-9a-fA-F]{40}")
_GITHUB_OWNERS = frozenset({"actions", "github"})


def check(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
    """Unpinned references and `secrets: inherit` in every workflow."""
    allowed = ctx.policy.tag_pinned_actions
    zizmor = read_config(ctx.snapshot) if workflows else None
    for wf in workflows:
        yield from _unpinned(ctx, wf, allowed, zizmor)
        yield from _inherit(ctx, wf)


def _unpinned(
    ctx: Context, wf: Workflow, allowed: Sequence[str], zizmor: ZizmorConfig | None
) -> Iterator[Finding]:
    for job in wf.jobs:
        refs = [(job.uses, job.uses_line)] + [(s.uses, s.uses_line) for s in job.steps]
        for uses, line in refs:
            if not uses or uses.startswith("./"):
                continue
            if uses.startswith("docker://"):
                if "@sha256:" not in uses:
                    yield ctx.finding(
                        "workflow/unpinned-action",
                        f"`{uses}` is not pinned to an image digest (`@sha256:…`)",
                        path=wf.path,
                        line=line,
                        column=_column(wf, line, uses),
                        subject=_image_name(uses),
                        fix="Pin the image by digest: `docker://image@sha256:<digest>`.",
                    )
                continue
            name, _, ref = uses.partition("@")
            if _SHA.fullmatch(ref) or any(_pattern(p).fullmatch(name) for p in allowed):
                continue
            if ref and accepts_ref(zizmor, name):
                continue  # the repository's zizmor policy accepts a tag for it
            owner = name.split("/", 1)[0].lower()
            rule = (
                "workflow/unpinned-github-action"
                if owner in _GITHUB_OWNERS
                else "workflow/unpinned-action"
            )
            pinned = f"the mutable ref `{ref}`" if ref else "no ref at all"
            yield ctx.finding(
                rule,
                f"`{name}` is pinned to {pinned}, not a full commit SHA",
                path=wf.path,
                line=line,
                column=_column(wf, line, uses),
                subject=name.lower(),
            )


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    """A `uses:` name pattern: `*` within one path segment, case-insensitive."""
    parts = (re.escape(p).replace(r"\*", "[^/]*") for p in glob.split("/"))
    return re.compile("/".join(parts), re.IGNORECASE)


def _image_name(uses: str) -> str:
    """`docker://alpine:3.20` -> `docker://alpine` (a new tag is the same finding)."""
    image = uses[len("docker://") :].split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return "docker://" + (f"{head}/" if head else "") + last.split(":", 1)[0]


def _inherit(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    for job in wf.jobs:
        if job.uses and not job.uses.startswith("./") and job.secrets_inherit_line:
            yield ctx.finding(
                "workflow/secrets-inherit",
                f"job `{job.id}` passes every secret to `{job.uses}` with `secrets: inherit`",
                path=wf.path,
                line=job.secrets_inherit_line,
                subject=f"{job.id}:{job.uses.split('@', 1)[0]}",
            )


def _column(wf: Workflow, line: int | None, text: str) -> int | None:
    if line is None or not 0 < line <= len(wf.lines):
        return None
    col = wf.lines[line - 1].find(text)
    return col + 1 if col >= 0 else None
