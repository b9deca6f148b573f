"""Importing the package stays light: numpy and scipy only."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "sklearn", "pandas", "pytest", "IPython")


@pytest.mark.parametrize("module", ["aimnotes", "aimnotes.testing"])
def test_import_does_not_pull_heavy_dependencies(module):
    code = (
        "import sys\n"
        f"import {module}\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "", f"import {module} imported: {out.stdout.strip()}"


def test_public_modules_are_exposed():
    import aimnotes

    for name in ("channels", "glm", "priors", "quadrature", "solvers"):
        assert hasattr(aimnotes, name), name
    assert isinstance(aimnotes.__version__, str)
