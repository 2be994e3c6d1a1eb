"""Precision and recall of the coverage detector against our hand labels of real workflows.

Reads ../shared/fixtures/workflows/* and tests/data/workflow_labels.yaml (labels written by
reading each file, before running the detector), evaluates each file alone as
`.github/workflows/<name>` with no changed paths, and prints per category and dimension
(configured / on PRs / blocking) precision and recall, beside a naive peer that counts a category
as covered when a catalog tool's id is merely mentioned in the file. Every miss is listed.

    .venv/bin/python benchmarks/coverage_accuracy.py [FIXTURE_DIR LABELS_YAML]
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import yaml

from ghapp.core.context import Context
from ghapp.core.model import CATEGORIES
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.coverage import compute_coverage
from ghapp.rules import default_catalog

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "workflows"
LABELS = ROOT / "tests" / "data" / "workflow_labels.yaml"
DIMENSIONS = ("configured", "on_pull_request", "blocking")

Truth = dict[tuple[str, str, str], bool]  # (file, category, dimension) -> value


def detect(name: str, text: str) -> Truth:
    ctx = Context(
        snapshot=DictSnapshot({f".github/workflows/{name}": text}),
        catalog=default_catalog(),
        policy=Policy(),
        today=date(2026, 1, 1),
    )
    cov = compute_coverage(ctx, None)
    return {(name, c, d): bool(getattr(cov[c], d)) for c in CATEGORIES for d in DIMENSIONS}


def mention(name: str, text: str) -> Truth:
    """The naive peer: a category is covered (in every dimension) when a tool id appears."""
    lowered = text.lower()
    out: Truth = {}
    for c in CATEGORIES:
        hit = any(c in t["categories"] and t["id"] in lowered for t in default_catalog().tools)
        out.update({(name, c, d): hit for d in DIMENSIONS})
    return out


def labelled(name: str, entry: dict[str, object]) -> Truth:
    out: Truth = {}
    for c in CATEGORIES:
        cat = entry.get(c) or {}
        assert isinstance(cat, dict)
        out.update({(name, c, d): bool(cat.get(d, False)) for d in DIMENSIONS})
    return out


def score(truth: Truth, got: Truth, c: str, d: str) -> tuple[float, float, int, int, int]:
    keys = [k for k in truth if k[1] == c and k[2] == d]
    tp = sum(truth[k] and got[k] for k in keys)
    fp = sum(not truth[k] and got[k] for k in keys)
    fn = sum(truth[k] and not got[k] for k in keys)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp, fp, fn


def main(argv: list[str]) -> int:
    fixtures, labels_path = (Path(argv[0]), Path(argv[1])) if len(argv) == 2 else (FIXTURES, LABELS)
    if not fixtures.is_dir():
        print(f"skipped: {fixtures} is absent")
        return 0
    labels = yaml.safe_load(labels_path.read_text())["fixtures"]
    files = sorted(p.name for p in fixtures.iterdir() if p.is_file() and p != labels_path)
    unlabelled = [f for f in files if f not in labels]
    truth: Truth = {}
    ours: Truth = {}
    peer: Truth = {}
    for name in files:
        if name in unlabelled:
            continue
        text = (fixtures / name).read_text(encoding="utf-8", errors="replace")
        truth.update(labelled(name, labels[name]))
        ours.update(detect(name, text))
        peer.update(mention(name, text))
    print(f"{len(files) - len(unlabelled)} labelled real workflows ({fixtures})\n")
    print(
        "| category | dimension | precision | recall | TP/FP/FN | peer precision | peer recall "
        "| precision ratio | recall ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals = [0, 0, 0]
    for c in CATEGORIES:
        for d in DIMENSIONS:
            p, r, tp, fp, fn = score(truth, ours, c, d)
            pp, pr, *_ = score(truth, peer, c, d)
            totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
            print(
                f"| {c} | {d} | {p:.2f} | {r:.2f} | {tp}/{fp}/{fn} | {pp:.2f} | {pr:.2f} "
                f"| {p / pp if pp else float('inf'):.2f} | {r / pr if pr else float('inf'):.2f} |"
            )
    tp, fp, fn = totals
    print(
        f"\noverall: precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f} "
        f"(TP {tp}, FP {fp}, FN {fn})"
    )
    misses = [(k, truth[k], ours[k]) for k in sorted(truth) if truth[k] != ours[k]]
    print(f"\nmisses ({len(misses)}):")
    for (name, c, d), want, got in misses:
        print(f"- {name}: {c}.{d} labelled {want}, detected {got}")
    if unlabelled:
        print(f"\nunlabelled fixtures: {', '.join(unlabelled)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
