"""The project explains itself from inside: the README's links resolve within the tree, the
design lives in docs/design.md, and .gitignore hides no tracked file."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_links_stay_inside_the_project():
    text = (ROOT / "README.md").read_text()
    assert "shared/DESIGN.md" not in text and "docs/design.md" in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), target


def test_the_design_covers_what_the_project_has():
    design = (ROOT / "docs" / "design.md").read_text()
    for name in ("zero-shot", "framing", "suspects", "agreement", "db backup", "PostgreSQL",
                 "user add|token|list|passwd|disable", "/docs"):
        assert name in design, name


def test_readme_says_how_to_log_in_after_make_run():
    text = (ROOT / "README.md").read_text()
    assert "Logging in after `make run`" in text and "onset user passwd admin" in text


@pytest.mark.skipif(not shutil.which("git") or not (ROOT / ".git").exists(),
                    reason="not a git checkout")
def test_gitignore_lists_no_tracked_file():
    listed = subprocess.run(["git", "ls-files", "-ci", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    assert listed == ""
