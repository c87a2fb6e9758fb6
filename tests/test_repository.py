"""The repository holds everything the server needs: nothing under app/ or migrations/
is hidden from git by an ignore rule (a `data/` rule once kept the web client's
app/web/js/data/ modules out of every clone, while the checkout that wrote them worked)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BYTECODE = ("__pycache__",)


def test_no_file_the_server_needs_is_ignored_by_git() -> None:
    assert (ROOT / ".git").exists(), "run the tests in a git checkout (git clone)"
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--",
         "app", "migrations", "scripts", "pyproject.toml"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    ignored = [path for path in listed if not any(part in BYTECODE for part in Path(path).parts)]
    assert ignored == [], f"files git ignores (add them, or narrow .gitignore): {ignored}"


def test_the_ignore_rules_do_not_reach_into_the_client() -> None:
    """The check above sees only files that exist; this one asks git about the paths a
    client module could take, so a rule like `data/` is caught before a file is written."""
    probes = ["app/web/js/data/x.js", "app/web/js/screens/x.js", "app/web/x.css", "app/x.py"]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *probes], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.stdout.split() == [], checked.stdout
