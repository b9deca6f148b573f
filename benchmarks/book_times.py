"""Record how long each chapter of the last `make book` took to execute.

Reads the execution cache of the build (``_build/.jupyter_cache``, where
myst-nb stores ``execution_seconds`` for every executed notebook), keeps the
latest record of each chapter listed in ``_toc.yml`` and writes
``benchmarks/book_execution.json``, which ``book/benchmarks.md`` renders.
``make benchmarks`` runs it after ``make book`` and ``run.py``.

    python benchmarks/book_times.py [--build _build] [--output PATH] [--note TEXT]
"""

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def chapters(toc_path):
    """Files of the table of contents, in order (``book/x`` without suffix)."""
    import yaml

    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    out = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return out


def collect(build, toc_path):
    from jupyter_cache import get_cache

    cache_dir = Path(build) / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise SystemExit(f"no execution cache in {cache_dir}: run `make book` first")
    latest = {}
    for record in get_cache(str(cache_dir)).list_cache_records():
        uri = Path(record.uri)
        try:
            key = uri.resolve().relative_to(ROOT).with_suffix("").as_posix()
        except ValueError:
            continue
        if key not in latest or record.created > latest[key].created:
            latest[key] = record
    rows = []
    for name in chapters(toc_path):
        record = latest.get(name)
        if record is None or "execution_seconds" not in (record.data or {}):
            continue
        rows.append({
            "chapter": name + ".md",
            "execution_s": round(float(record.data["execution_seconds"]), 2),
            "executed": record.created.replace(microsecond=0).isoformat(),
        })
    if not rows:
        raise SystemExit(f"no executed chapter of {toc_path} in {cache_dir}: run `make book`")
    size_file = Path(build) / ".aimnotes-size"
    size = size_file.read_text().strip() if size_file.is_file() else "unknown"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "aimnotes_size": size,
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "chapters": rows,
        "total_s": round(sum(r["execution_s"] for r in rows), 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "_build"))
    parser.add_argument("--toc", default=str(ROOT / "_toc.yml"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "book_execution.json"))
    parser.add_argument("--note", default="", help="a remark shown under the table")
    args = parser.parse_args(argv)
    result = collect(args.build, args.toc)
    if args.note:
        result["note"] = args.note
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for row in result["chapters"]:
        print(f"{row['chapter']:<32} {row['execution_s']:8.1f} s")
    print(f"{'total':<32} {result['total_s']:8.1f} s  (AIMNOTES_SIZE={result['aimnotes_size']},"
          f" {result['cpu_count']} cores) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
