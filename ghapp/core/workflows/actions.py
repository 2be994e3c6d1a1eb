"""What well-known steps do, for the hygiene rules: which execute the code in the workspace,
which publish, which restore a cache, which need the checkout's git credentials.

Each is a small table read by one function. A step nobody lists counts as doing none of these,
so a rule built on them reports only what it can name (precision before recall).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ghapp.core.workflows.parsing import Step
from ghapp.core.workflows.shell import command_words, shell_words, split_script

# Actions that build or run the code of the checked-out workspace.
_EXECUTING_ACTIONS = {
    "docker/build-push-action": "builds the workspace's Dockerfile",
    "pre-commit/action": "runs the hooks the workspace configures",
    "github/codeql-action/autobuild": "runs the workspace's build",
    "cypress-io/github-action": "installs and runs the workspace's tests",
    "bahmutov/npm-install": "runs the workspace's npm install scripts",
    "borales/actions-yarn": "runs the workspace's yarn scripts",
    "gradle/gradle-build-action": "runs the workspace's Gradle build",
}
_ANY = frozenset({"*"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Command head -> subcommands that run the workspace's code (_ANY: any but version/help).
_EXECUTING_COMMANDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        _words(
            "make gmake cmake ninja bazel bazelisk mvn mvnw gradle gradlew ant sbt yarn bun npx "
            "node deno tsx ts-node python python3 pytest tox nox hatch pdm ruby rake rails rspec "
            "php phpunit msbuild docker-compose eslint jest vitest mocha sh bash zsh source . perl"
        ),
        _ANY,
    ),
    "npm": _words("ci install i test t run run-script start exec rebuild pack publish"),
    "pnpm": _words("install i run test exec start build publish"),
    "cargo": _words("build test run bench check clippy doc publish"),
    "go": _words("build test run generate vet"),
    "pip": _words("install"),
    "pip3": _words("install"),
    "poetry": _words("install run build"),
    "pipenv": _words("install run sync"),
    "uv": _words("run sync pip build"),
    "bundle": _words("install exec"),
    "composer": _words("install update run run-script"),
    "dotnet": _words("build test run restore pack publish"),
    "docker": _words("build buildx compose"),
    "podman": _words("build"),
    "skaffold": _words("run build dev deploy test debug"),
    "tilt": _words("up ci"),
    "terraform": _words("init plan apply console"),
    "tofu": _words("init plan apply console"),
    "pre-commit": _words("run"),
    "playwright": _words("test"),
    "cypress": _words("run"),
}
_ASKS = frozenset({"--version", "-v", "-V", "version", "--help", "-h", "help"})

_PUBLISHER_ACTIONS = frozenset(
    {
        "pypa/gh-action-pypi-publish", "rubygems/release-gem", "jreleaser/release-action",
        "goreleaser/goreleaser-action", "softprops/action-gh-release", "ncipollo/release-action",
        "svenstaro/upload-release-action", "actions/create-release", "actions/upload-release-asset",
        "redhat-actions/push-to-registry", "js-devtools/npm-publish",
    }
)  # fmt: skip
_PUBLISHER_COMMANDS = re.compile(
    r"^((npm|pnpm|yarn( npm)?) publish|twine upload|(poetry|flit|hatch|uv) publish|cargo publish"
    r"|gem push|(docker|podman) (image )?push|goreleaser( release)?(\s|$)|gh release (create|upload)"
    r"|mvn(w)? .*deploy|(gradle|gradlew) .*publish|dotnet nuget push|nuget push|helm push"
    r"|(vsce|ovsx) publish)"
)
# Steps that need the git credentials `actions/checkout` persisted (they push).
_GIT_WRITER_ACTIONS = frozenset(
    {
        "stefanzweifel/git-auto-commit-action", "endbug/add-and-commit", "ad-m/github-push-action",
        "changesets/action", "cycjimmy/semantic-release-action", "peter-evans/create-pull-request",
    }
)  # fmt: skip
_GIT_WRITER_COMMANDS = re.compile(
    r"^(git\s+(.*\s)?(push|commit|tag)(\s|$)|(semantic-release|release-it|lerna|changeset)(\s|$)"
    r"|npm version|mvn(w)? .*release:|cargo release|(gradle|gradlew) .*release)"
)
# Actions that act on GitHub with the job's token or an OIDC credential (comments, labels,
# releases, packages, pages, code scanning, attestations, cloud logins).
_TOKEN_USER_PREFIXES = (
    "actions/github-script", "actions/labeler", "actions/stale", "actions/deploy-pages",
    "actions/attest", "github/codeql-action/", "peter-evans/", "marocchino/", "thollander/",
    "googleapis/release-please-action", "release-drafter/", "docker/login-action",
    "jamesives/github-pages-deploy-action", "peaceiris/actions-gh-pages", "dependabot/",
    "ossf/scorecard-action", "sigstore/", "slsa-framework/", "aws-actions/configure-aws-credentials",
    "google-github-actions/auth", "azure/login", "codecov/",
)  # fmt: skip
_TOKEN = re.compile(r"github\.token|secrets\.GITHUB_TOKEN|\bGH_TOKEN\b|\bGITHUB_TOKEN\b")
# Cache-aware actions: action -> (input that turns caching on or off, values that turn it on,
# whether it caches when the input is absent).
_CACHE_ACTIONS: dict[str, tuple[str | None, frozenset[str], bool]] = {
    "actions/cache": ("lookup-only", frozenset({"false"}), True),
    "actions/cache/restore": (None, frozenset(), True),
    "actions/setup-go": ("cache", frozenset({"true"}), True),
    "actions/setup-node": ("cache", frozenset({"npm", "yarn", "pnpm"}), False),
    "actions/setup-python": ("cache", frozenset({"pip", "pipenv", "poetry"}), False),
    "actions/setup-java": ("cache", frozenset({"maven", "gradle", "sbt"}), False),
    "actions/setup-dotnet": ("cache", frozenset({"true"}), False),
    "astral-sh/setup-uv": ("enable-cache", frozenset({"true"}), False),
    "swatinem/rust-cache": ("lookup-only", frozenset({"false"}), True),
    "ruby/setup-ruby": ("bundler-cache", frozenset({"true"}), False),
    "gradle/actions/setup-gradle": ("cache-disabled", frozenset({"false"}), True),
    "gradle/gradle-build-action": ("cache-disabled", frozenset({"false"}), True),
    "actions-rust-lang/setup-rust-toolchain": ("cache", frozenset({"true"}), True),
    "mozilla-actions/sccache-action": (None, frozenset(), True),
    "jdx/mise-action": ("cache", frozenset({"true"}), True),
    "determinatesystems/magic-nix-cache-action": ("use-gha-cache", frozenset({"true"}), True),
}


def commands(step: Step) -> Iterator[tuple[list[str], int]]:
    """The commands of a `run:` step, wrappers stripped: (words, 0-based script line)."""
    for text, line, _ in split_script(step.run or ""):
        words, _ = command_words(shell_words(text))
        if words:
            yield [w.strip("'\"") for w in words], line


def executes(step: Step) -> tuple[str, int | None] | None:
    """What in this step runs the workspace's code, and the script line (None for `uses:`)."""
    name = step.action
    if name is not None and step.uses is not None:
        if step.uses.startswith("./"):
            return f"the local action `{step.uses}`", None
        if name in _EXECUTING_ACTIONS:
            return f"`{name}` ({_EXECUTING_ACTIONS[name]})", None
        return None
    for words, line in commands(step):
        if executing_command(words):
            return describe(words), line
    return None


def describe(words: Sequence[str], limit: int = 60) -> str:
    """A command as a short code span for a message."""
    text = " ".join(words)
    return f"`{text if len(text) <= limit else text[: limit - 1] + '…'}`"


def executing_command(words: Sequence[str]) -> bool:
    """Whether a command (wrappers stripped) runs the workspace's code."""
    head = words[0]
    if head.startswith(("./", "../")) or (
        "/" in head and not head.startswith(("/", "$")) and "EXPR" not in head
    ):
        return True  # a program of the workspace itself
    subcommands = _EXECUTING_COMMANDS.get(head.rsplit("/", 1)[-1])
    if subcommands is None:
        return False
    rest = [w for w in words[1:] if not w.startswith("-")] or [""]
    if set(words[1:]) & _ASKS and len(words) == 2:
        return False
    return subcommands is _ANY or rest[0] in subcommands


def publishes(step: Step) -> str | None:
    """What this step publishes with (an action or a command), None when it does not."""
    name = step.action
    if name in _PUBLISHER_ACTIONS:
        return f"`{name}`"
    if name == "docker/build-push-action" and step.with_.get("push", "false") != "false":
        return "`docker/build-push-action` with `push`"
    for words, _ in commands(step):
        if _PUBLISHER_COMMANDS.match(" ".join(words)):
            return describe(words, 40)
    return None


def pushes(step: Step) -> bool:
    """Whether the step uses the persisted git credentials (git push, release tools)."""
    if step.action in _GIT_WRITER_ACTIONS:
        return True
    return any(_GIT_WRITER_COMMANDS.match(" ".join(w)) for w, _ in commands(step))


def uses_token(step: Step) -> bool:
    """Whether the step may act with the job's token or credentials (so may need its scopes)."""
    name = step.action or ""
    if (
        name in _PUBLISHER_ACTIONS
        or name in _GIT_WRITER_ACTIONS
        or name.startswith(_TOKEN_USER_PREFIXES)
        or name.startswith("./")
        or any(_TOKEN.search(v) for v in (*step.with_.values(), *step.env.values()))
        or any(_TOKEN.search(k) for k in step.env)
    ):
        return True
    return (
        publishes(step) is not None
        or pushes(step)
        or any(w[0] == "gh" or _TOKEN.search(" ".join(w)) for w, _ in commands(step))
    )


def restores_cache(step: Step) -> str | None:
    """A description when the step restores a GitHub Actions cache, else None."""
    name = step.action
    if name == "docker/build-push-action":
        return (
            "`docker/build-push-action` with `cache-from: type=gha`"
            if "type=gha" in step.with_.get("cache-from", "")
            else None
        )
    spec = _CACHE_ACTIONS.get(name or "")
    if spec is None:
        return None
    key, on_values, default = spec
    given = step.with_.get(key) if key else None
    value = given.strip().lower() if given is not None else None
    if value is None:
        return f"`{name}` caches by default" if default else None
    if "${{" in value or value in on_values or (key == "cache" and value not in ("false", "")):
        return f"`{name}` with `{key}: {value}`"
    return None
