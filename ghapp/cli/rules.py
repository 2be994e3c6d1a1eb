"""`ghapp rules`: the rules catalog and the scanner tools ghapp recognises."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_command(sub: Any) -> None:
    p = sub.add_parser("rules", help="list the rules catalog and the scanner tools it knows")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(run=run_rules)


def run_rules(args: argparse.Namespace) -> int:
    from ghapp.rules import default_catalog

    catalog = default_catalog()
    if args.format == "json":
        print(
            json.dumps(
                {
                    "rules": [vars(r) for r in catalog.rules.values()],
                    "tools": [dict(t) for t in catalog.tools],
                },
                indent=2,
                default=str,
            )
        )
    elif args.format == "markdown":
        print(rules_markdown(), end="")
    else:
        for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
            print(f"{rule.id:<40} {rule.severity:<8} {rule.title}")
        print(f"\n{len(catalog.rules)} rules, {len(catalog.tools)} scanner tools")
    return 0


def rules_markdown() -> str:
    """The README's rules reference, generated from the catalog."""
    from ghapp.rules import default_catalog

    catalog = default_catalog()
    out = ["| Rule | Severity | What it means | Fix |", "|---|---|---|---|"]
    for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
        out.append(
            f"| [`{rule.id}`]({rule.docs}) | {rule.severity} | {rule.title} | "
            f"{rule.fix.replace('|', '/').strip()} |"
        )
    out += ["", f"Scanner tools recognised ({len(catalog.tools)}):", ""]
    by_category: dict[str, list[str]] = {}
    for tool in catalog.tools:
        for category in tool["categories"]:
            by_category.setdefault(category, []).append(str(tool["name"]))
    for category, names in sorted(by_category.items()):
        out.append(f"- **{category}**: {', '.join(sorted(set(names), key=str.lower))}")
    return "\n".join(out) + "\n"
