"""Regenerate the README's rules reference from the catalog: `python -m tests.update_readme`."""

from ghapp.cli.rules import rules_markdown
from tests.conftest import ROOT

readme = ROOT / "README.md"
text = readme.read_text()
head, rest = text.split("<!-- rules:begin", 1)
marker_line, _ = rest.split("\n", 1)
_, tail = rest.split("<!-- rules:end -->", 1)
readme.write_text(
    f"{head}<!-- rules:begin{marker_line}\n{rules_markdown()}<!-- rules:end -->{tail}"
)
