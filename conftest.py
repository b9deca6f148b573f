"""Notebook checks for the book's MyST chapters (see README, "How chapters are tested").

nbval collects only ``.ipynb`` files and compares outputs only for cells with an
``execution_count``; the chapters are jupytext MyST ``.md`` files without outputs.
Under ``--nbval`` / ``--nbval-lax`` this hook therefore collects every ``.md``
whose front matter declares ``format_name: myst``, merges the stored outputs of
``tests/reference/<stem>.ipynb`` into it and hands the result to nbval.

* Cells tagged ``nbval-check-output`` are compared with the reference (after
  ``tests/sanitize.cfg``); all other code cells must merely run.
* A tagged cell without a reference output is a collection error: run
  ``make reference CHAPTER=book/<chapter>.md``, review the diff, commit it.
* The kernel runs in the chapter's folder (nbval starts it with
  ``cwd=<folder of the collected file>``) and sees ``AIMNOTES_SIZE=quick`` unless
  the variable is already set.

Without ``--nbval``/``--nbval-lax`` no ``.md`` file is collected.
"""

import os
import re
from pathlib import Path
from unittest import mock

CHECK_TAG = "nbval-check-output"
REFERENCE_DIR = Path("tests") / "reference"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)


def _nbval_enabled(config):
    opt = config.option
    return bool(getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False))


def pytest_configure(config):
    if _nbval_enabled(config):
        # Kernels inherit os.environ: notebook checks run at the quick size,
        # the size the references in tests/reference/ were made with.
        os.environ.setdefault("AIMNOTES_SIZE", "quick")


def is_myst_notebook(path):
    """True if ``path`` starts with jupytext front matter ``format_name: myst``."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(8192)
    except (OSError, UnicodeDecodeError):
        return False
    match = _FRONT_MATTER.match(head)
    if not match:
        return False
    try:
        import yaml

        meta = yaml.safe_load(match.group(1)) or {}
        fmt = meta["jupytext"]["text_representation"]["format_name"]
    except Exception:
        return False
    return fmt == "myst"


def reference_path(rootpath, notebook_path):
    """Path of the stored reference outputs of a chapter."""
    return Path(rootpath) / REFERENCE_DIR / (Path(notebook_path).stem + ".ipynb")


def _tags(cell):
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


class StaleReferenceError(Exception):
    """A tagged cell has no stored output to compare with."""


def merge_reference(nb, ref_path, source_path="chapter", ref_label=None):
    """Merge outputs from ``ref_path`` into ``nb`` and apply the stale-reference guard.

    ``source_path`` and ``ref_label`` only name the files in the error message.
    """
    import jupytext.combine
    import nbformat

    ref_path = Path(ref_path)
    ref_label = ref_label or str(ref_path)
    if ref_path.exists():
        ref = nbformat.read(str(ref_path), as_version=4)
        nb = jupytext.combine.combine_inputs_with_outputs(nb, ref)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        # Cells never run in the reference must look unrun to nbval.
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    missing = [
        cell.source.strip().splitlines()[0] if cell.source.strip() else "<empty cell>"
        for cell in nb.cells
        if cell.cell_type == "code"
        and CHECK_TAG in _tags(cell)
        and cell.get("execution_count") is None
    ]
    if missing:
        lines = "\n".join(f"    {m}" for m in missing)
        raise StaleReferenceError(
            f"{source_path}: {len(missing)} cell(s) tagged '{CHECK_TAG}' have no reference "
            f"output in {ref_label} (new or edited cells, or no reference yet):\n{lines}\n"
            f"Regenerate it with `make reference CHAPTER={source_path}`, review the diff "
            f"of {ref_label} and commit it with the source change."
        )
    return nb


def _make_collector():
    import nbval.plugin

    class MystNbFile(nbval.plugin.IPyNbFile):
        """nbval collector for a jupytext MyST chapter plus its stored reference."""

        def collect(self):
            import jupytext

            root = self.config.rootpath
            ref = reference_path(root, self.path)
            try:
                nb = merge_reference(
                    jupytext.read(self.path),
                    ref,
                    source_path=os.path.relpath(self.path, root),
                    ref_label=os.path.relpath(ref, root),
                )
            except StaleReferenceError as exc:
                raise self.CollectError(str(exc)) from None
            with mock.patch.object(nbval.plugin.nbformat, "read", return_value=nb):
                yield from super().collect()

    return MystNbFile


_collector_cls = None


def pytest_collect_file(file_path, parent):
    global _collector_cls
    if file_path.suffix != ".md" or not _nbval_enabled(parent.config):
        return None
    if "_build" in file_path.parts or not is_myst_notebook(file_path):
        return None
    if _collector_cls is None:
        _collector_cls = _make_collector()
    return _collector_cls.from_parent(parent, path=file_path)
