"""The API reference page (book/api.md) lists every public module of aimnotes."""

import pkgutil
import re
from pathlib import Path

import aimnotes

ROOT = Path(__file__).resolve().parents[1]


def _listed_modules():
    text = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"```\{aimnotes-api\}\n(.*?)```", text, re.S)
    assert block, "book/api.md has no aimnotes-api block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_every_public_module_is_in_the_api_reference():
    public = {f"aimnotes.{m.name}" for m in pkgutil.iter_modules(aimnotes.__path__)
              if not m.name.startswith("_")}
    listed = _listed_modules()
    missing = sorted(public - set(listed))
    assert not missing, (
        "public modules missing from the API reference; add one line each to the "
        f"aimnotes-api block of book/api.md: {missing}")
    assert len(listed) == len(set(listed)), "a module is listed twice in book/api.md"
    assert not sorted(set(listed) - public), "book/api.md lists a module that does not exist"
