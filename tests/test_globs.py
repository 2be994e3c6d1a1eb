"""Config path globs: `*` stays in a segment, `**` crosses, bare names match at any depth."""

import pytest

from ghapp.core.globs import glob_match


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("vendor/**", "vendor/a/b.py", True),
        ("vendor/**", "src/vendor/a.py", False),
        ("*.tf", "infra/main.tf", True),
        ("**/Dockerfile", "Dockerfile", True),
        ("**/Dockerfile", "svc/a/Dockerfile", True),
        ("Dockerfile", "svc/Dockerfile", True),
        ("services/*/k8s/**", "services/a/k8s/deploy.yaml", True),
        ("services/*/k8s/**", "services/a/b/k8s/deploy.yaml", False),
        ("docs/", "docs/a/b.md", True),
        ("/docs/*.md", "docs/a.md", True),
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src/ab.py", False),
        ("a+b/(x)", "a+b/(x)", True),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected
