"""The root conftest's nbval hook on a fixture chapter (tests/fixtures/mini_chapter.md).

Each test runs an inner pytest in a scratch project laid out like this repository:
``book/mini_chapter.md``, ``tests/reference/mini_chapter.ipynb``, the real
``conftest.py``, ``pytest.ini`` and ``tests/sanitize.cfg``.  Only the first two
tests start a kernel.
"""

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NBVAL_ARGS = (
    "--nbval-lax",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/sanitize.cfg",
    "-p",
    "no:cacheprovider",
)
N_CODE_CELLS = 3


@pytest.fixture
def project(pytester, monkeypatch):
    """A scratch copy of the repository's test layout with the fixture chapter."""
    monkeypatch.delenv("AIMNOTES_SIZE", raising=False)  # the conftest must set it
    path = pytester.path
    (path / "book").mkdir()
    (path / "tests" / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "conftest.py", path / "conftest.py")
    shutil.copy(ROOT / "pytest.ini", path / "pytest.ini")
    shutil.copy(ROOT / "tests" / "sanitize.cfg", path / "tests" / "sanitize.cfg")
    shutil.copy(FIXTURES / "mini_chapter.md", path / "book" / "mini_chapter.md")
    shutil.copy(FIXTURES / "mini_chapter.ipynb", path / "tests" / "reference" / "mini_chapter.ipynb")
    # A plain page without jupytext front matter, like book/intro.md.
    (path / "book" / "intro.md").write_text("# Intro\n\n```python\n1 / 0\n```\n")
    return path


def _edit_reference(path, edit):
    ref = path / "tests" / "reference" / "mini_chapter.ipynb"
    nb = json.loads(ref.read_text())
    edit(nb)
    ref.write_text(json.dumps(nb, indent=1))


def test_passes_with_matching_reference(pytester, project):
    result = pytester.runpytest_subprocess(*NBVAL_ARGS, "-v")
    result.assert_outcomes(passed=N_CODE_CELLS)
    result.stdout.fnmatch_lines(["*mini_chapter*Cell 0 PASSED*"])
    result.stdout.no_fnmatch_line("*intro.md*")


def test_fails_when_checked_output_changes(pytester, project):
    def perturb(nb):
        text = "".join(nb["cells"][0]["outputs"][0]["text"])
        assert "q = 0.8000" in text
        nb["cells"][0]["outputs"][0]["text"] = text.replace("0.8000", "1.3000")

    _edit_reference(project, perturb)
    result = pytester.runpytest_subprocess(*NBVAL_ARGS)
    result.assert_outcomes(passed=N_CODE_CELLS - 1, failed=1)
    result.stdout.fnmatch_lines(["*Cell outputs differ*", "*1.3000*"])


@pytest.mark.parametrize("how", ["missing file", "blank cell"])
def test_tagged_cell_without_reference_is_a_collection_error(pytester, project, how):
    ref = project / "tests" / "reference" / "mini_chapter.ipynb"
    if how == "missing file":
        ref.unlink()
    else:

        def blank(nb):
            nb["cells"][0]["outputs"] = []
            nb["cells"][0]["execution_count"] = None

        _edit_reference(project, blank)
    result = pytester.runpytest_subprocess(*NBVAL_ARGS, "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*book/mini_chapter.md: 1 cell(s) tagged 'nbval-check-output' have no reference*",
            "*make reference CHAPTER=book/mini_chapter.md*",
        ]
    )


def test_plain_pytest_does_not_collect_chapters(pytester, project):
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")
    (project / "test_unit.py").rename(project / "tests" / "test_unit.py")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["tests/test_unit.py::test_unit"])
    result.stdout.no_fnmatch_line("*.md*")
    result.stdout.no_fnmatch_line("*.ipynb*")


def test_nbval_collects_only_myst_notebooks(pytester, project):
    result = pytester.runpytest_subprocess(*NBVAL_ARGS, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"book/mini_chapter.md::Cell {i}" for i in range(N_CODE_CELLS)])
    result.stdout.no_fnmatch_line("*intro.md*")
    result.stdout.no_fnmatch_line("*reference*")
