"""Regenerate the stored outputs that the notebook checks compare against.

Usage (from the repository root, normally through ``make reference``)::

    python tests/make_reference.py                       # every notebook chapter in _toc.yml
    python tests/make_reference.py book/perceptron.md    # one chapter

Each chapter (a jupytext MyST ``.md``) is executed with nbclient in its own
folder, with the kernel of the running interpreter and ``AIMNOTES_SIZE=quick``
(the size ``make test`` uses).  Outputs and execution counts of all cells not
tagged ``nbval-check-output`` are blanked, so nbval treats them as unrun, and
the code cells are written to ``tests/reference/<stem>.ipynb``.  Review the diff
and commit it together with the change that moved the numbers.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conftest import CHECK_TAG, is_myst_notebook, reference_path  # noqa: E402

SIZE = "quick"


def toc_files(toc_path):
    """All documents listed in a jb-book ``_toc.yml``, in order, as paths."""
    import yaml

    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    files = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    files.append(toc["root"])
    walk(toc)
    out = []
    for name in files:
        path = ROOT / name
        if path.suffix == "":
            path = path.with_suffix(".md")
        out.append(path)
    return out


def _tags(cell):
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def make_reference(chapter, timeout=600, out_dir=None):
    """Execute ``chapter`` and write its reference notebook.

    Returns the path written and the number of checked (tagged) cells.
    """
    import jupytext
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    chapter = Path(chapter).resolve()
    nb = jupytext.read(chapter)
    # Same kernel as `pytest --nbval-current-env`: this interpreter's ipykernel.
    km = KernelManager(
        kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager()
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    try:
        client.execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=False)

    cells = []
    n_checked = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if CHECK_TAG in _tags(cell):
            n_checked += 1
            if not cell.outputs:
                print(f"  warning: tagged cell prints nothing: {cell.source[:60]!r}")
            for out in cell.outputs:
                if "image/png" in out.get("data", {}):
                    print(f"  warning: tagged cell shows a figure: {cell.source[:60]!r}")
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.id = f"code-{len(cells)}"  # stable ids: no churn in the diff
        cells.append(cell)
    nb.cells = cells
    # Keep the reference free of version noise (Python patch level, jupytext).
    nb.metadata = {"kernelspec": nb.metadata.get("kernelspec", {})}

    out_path = reference_path(ROOT, chapter)
    if out_dir is not None:
        out_path = Path(out_dir) / out_path.name
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(out_path))
    return out_path, n_checked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter .md files (default: all in _toc.yml)")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument(
        "--out-dir", default=None, help="write here instead of tests/reference (test fixtures)"
    )
    args = parser.parse_args(argv)

    size = os.environ.setdefault("AIMNOTES_SIZE", SIZE)
    if size != SIZE:
        print(f"warning: AIMNOTES_SIZE={size}, but the notebook checks run at {SIZE}")

    if args.chapters:
        chapters = [Path(c) for c in args.chapters]
        bad = [c for c in chapters if not is_myst_notebook(c)]
        if bad:
            parser.error(f"not a jupytext MyST notebook: {', '.join(map(str, bad))}")
    else:
        chapters = [c for c in toc_files(ROOT / "_toc.yml") if is_myst_notebook(c)]
        if not chapters:
            parser.error("no MyST notebook chapters found in _toc.yml")

    for chapter in chapters:
        start = time.perf_counter()
        name = os.path.relpath(Path(chapter).resolve(), Path.cwd())
        print(f"{name}: executing at AIMNOTES_SIZE={size} ...", flush=True)
        out_path, n_checked = make_reference(chapter, timeout=args.timeout, out_dir=args.out_dir)
        elapsed = time.perf_counter() - start
        rel = os.path.relpath(out_path, Path.cwd())
        print(f"  wrote {rel} ({n_checked} checked cell(s), {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
