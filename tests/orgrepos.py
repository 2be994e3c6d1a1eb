"""Repositories of a small organisation, as file dicts, for `ghapp report` tests, the dashboard's
end-to-end tests and the organisation benchmarks.

`ORG_REPOS` is three hand-written repositories with known outcomes; `generated_repo(i)` is the
i-th of any number of varied ones (services, teams, tiers, data classes, scans, deployments and
policies chosen from `i`), with every manifest and CODEOWNERS unique to its repository and
workflows from a few shared templates, as organisations keep them.
"""

from __future__ import annotations

TEAMS = ("payments", "web", "platform", "search", "data", "mobile", "identity", "growth")

SCANNING_WORKFLOW = """\
name: ci
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  codeql:
    runs-on: ubuntu-latest
    permissions:
      security-events: write
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: github/codeql-action/init@662472033e021d55d94146f66f6058822b0b39fd # v3.27.0
      - uses: github/codeql-action/analyze@662472033e021d55d94146f66f6058822b0b39fd # v3.27.0
  secrets:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          fetch-depth: 0
      - uses: gitleaks/gitleaks-action@83373cf2f8c4db6e24b41c1a9b086bb9619e9cd3 # v2.3.7
"""

TEST_WORKFLOW = """\
name: test
on: [push]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - run: make test
"""


def manifest(
    name: str,
    team: str,
    tier: int,
    data: str | None = None,
    oncall: str | None = None,
    runbook: bool = True,
) -> str:
    """A Backstage component owned by `group:default/<team>`."""
    annotations = [f'    ghapp.dev/tier: "{tier}"']
    if data:
        annotations.append(f"    ghapp.dev/data-classification: {data}")
    if oncall:
        annotations.append(f"    pagerduty.com/service-id: {oncall}")
    if runbook:
        annotations.append(f"    ghapp.dev/runbook: https://runbooks.example.com/{name}")
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
        f"  name: {name}\n  annotations:\n" + "\n".join(annotations) + "\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: group:default/{team}\n"
    )


def deployment(name: str, privileged: bool = False) -> str:
    """A Deployment with probes, resources and a pinned image; privileged when asked."""
    extra = "            privileged: true\n" if privileged else ""
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\nspec:\n  template:\n    spec:\n"
        "      securityContext:\n        runAsNonRoot: true\n      containers:\n"
        f"        - name: {name}\n          image: ghcr.io/acme/{name}:1.0.0\n"
        "          readinessProbe:\n            httpGet: {path: /healthz, port: 8080}\n"
        "          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n"
        "          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n"
        "            limits: {cpu: 500m, memory: 256Mi}\n"
        "          securityContext:\n            allowPrivilegeEscalation: false\n"
        "            readOnlyRootFilesystem: true\n" + extra
    )


# Three repositories: shop (two services, payments runs a privileged container), ledger (one
# service at the root, owned by payments, whose policy waives its missing on-call), web (no
# manifest at all: one service named after the repository, owned through CODEOWNERS).
ORG_REPOS: dict[str, dict[str, str]] = {
    "shop": {
        ".github/CODEOWNERS": (
            "* @acme/platform\n/services/payments/ @acme/payments\n/services/cart/ @acme/web\n"
        ),
        ".github/workflows/ci.yml": SCANNING_WORKFLOW,
        "services/payments/catalog-info.yaml": manifest("payments", "payments", 1, "pci", "P12"),
        "services/payments/k8s/deployment.yaml": deployment("payments", privileged=True),
        "services/payments/app.py": "print('pay')\n",
        "services/cart/catalog-info.yaml": manifest("cart", "web", 2, oncall="P34"),
        "services/cart/k8s/deployment.yaml": deployment("cart"),
        "services/cart/app.py": "print('cart')\n",
    },
    "ledger": {
        ".github/CODEOWNERS": "* @acme/payments\n",
        ".github/workflows/ci.yml": SCANNING_WORKFLOW,
        ".github/ghapp.yml": (
            "version: 1\nmanifests:\n  required: [owner, tier, oncall]\nwaivers:\n"
            "  - rule: manifest/missing-oncall\n    reason: the ledger pages through finance ops\n"
            '    approved_by: "@acme/security"\n'
        ),
        "catalog-info.yaml": manifest("ledger", "payments", 1, "pci,pii"),
        "ledger.py": "print('ledger')\n",
    },
    "web": {
        ".github/CODEOWNERS": "* @acme/web\n",
        ".github/workflows/test.yml": TEST_WORKFLOW,
        "index.html": "<h1>acme</h1>\n",
    },
}


def generated_repo(i: int) -> dict[str, str]:
    """The i-th generated repository: one to three services (or none), varied records."""
    name = f"svc-{i:05d}"
    team = TEAMS[i % len(TEAMS)]
    files: dict[str, str] = {
        ".github/CODEOWNERS": f"# {name}\n* @acme/{team}\n/docs/ @acme/platform\n",
        "README.md": f"# {name}\n",
        "docs/index.md": f"{name} documentation\n",
    }
    files[".github/workflows/ci.yml"] = SCANNING_WORKFLOW if i % 3 else TEST_WORKFLOW
    if i % 5 == 0:
        files[".github/ghapp.yml"] = "version: 1\nmanifests:\n  required: [owner, tier, oncall]\n"
    count = 0 if i % 7 == 0 else 1 + i % 3
    for n in range(count):
        service = f"{name}-{n}" if count > 1 else name
        where = f"services/{service}/" if count > 1 else ""
        data = ("pci", "pii", None, "phi")[(i + n) % 4]
        oncall = f"P{i:05d}{n}" if (i + n) % 4 else None
        files[f"{where}catalog-info.yaml"] = manifest(service, team, 1 + (i + n) % 3, data, oncall)
        files[f"{where}k8s/deployment.yaml"] = deployment(service, privileged=(i + n) % 6 == 0)
        files[f"{where}src/main.py"] = f"print({service!r})\n"
    return files
