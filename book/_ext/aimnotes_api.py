"""Sphinx extension for the API reference page (book/api.md).

The directive ``aimnotes-api`` takes one module name per line and writes,
for the listed modules, a summary table (module, first line of its
docstring) followed by one section per module with ``automodule`` of its
public members (``__all__``), rendered by numpydoc::

    ```{aimnotes-api}
    aimnotes.priors
    aimnotes.channels
    ```

A new module of the package is documented by adding its name on one line.
"""

import importlib
import inspect
import re
import sys

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _summary(module):
    doc = (importlib.import_module(module).__doc__ or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else ""


class AimnotesApi(SphinxDirective):
    """One section per listed module, after a summary table of them all."""

    has_content = True

    def run(self):
        """Return the summary table and one section per module."""
        modules = [line.strip() for line in self.content if line.strip()]
        table = nodes.table(classes=["autosummary", "longtable"])
        group = nodes.tgroup(cols=2)
        table += group
        group += nodes.colspec(colwidth=30)
        group += nodes.colspec(colwidth=70)
        body = nodes.tbody()
        group += body
        sections = []
        for module in modules:
            section_id = nodes.make_id("module-section-" + module)
            row = nodes.row()
            ref = nodes.reference("", "", internal=True, refid=section_id)
            ref += nodes.literal(text=module)
            row += nodes.entry("", nodes.paragraph("", "", ref))
            summary = nodes.entry()
            # The first docstring line is reStructuredText (it may hold :math:).
            self.state.nested_parse(
                StringList(["```{eval-rst}", _summary(module), "```"],
                           source=self.get_source_info()[0]),
                self.content_offset, summary)
            row += summary
            body += row

            section = nodes.section(ids=[section_id])
            section += nodes.title(text=module)
            self.state.document.note_implicit_target(section, section)
            # The page is MyST Markdown; autodoc writes reStructuredText, which
            # only eval-rst parses as such.
            content = StringList(
                ["```{eval-rst}", f".. automodule:: {module}", "   :members:", "```"],
                source=self.get_source_info()[0],
            )
            self.state.nested_parse(content, self.content_offset, section)
            sections.append(section)
        return [table, *sections]


_SECTION = re.compile(r"^(\s*)([A-Z][A-Za-z ]+)\n\1(-+)$", re.M)
_CITED = re.compile(r"\[(\w+)\]_")
_DEFINED = re.compile(r"^\s*\.\. \[(\w+)\]", re.M)


def _citations(text):
    """Map label -> lines of each ``.. [label] ...`` entry of a docstring."""
    entries, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^(\s*)\.\. \[(\w+)\]", line)
        if match:
            current = entries.setdefault(match.group(2), [line.strip()])
        elif current is not None and line.strip() and line.startswith(" "):
            current.append("   " + line.strip())
        else:
            current = None
    return entries


def _prepare_docstring(app, what, name, obj, options, lines):
    """Make each docstring self-contained before numpydoc renders it.

    * A module docstring's numpydoc sections (``References``, ``Examples``)
      become rubrics: as headings, every module of the page would add its
      own "References" section (duplicate targets, clutter in the page's
      table of contents).
    * A function or class citing ``[n]_`` from its module's References
      (the package's convention: the module lists the papers once) gets
      those entries appended, so numpydoc links each citation within the
      docstring, as it does for a docstring's own references.
    """
    text = "\n".join(lines)
    if what == "module":
        text = _SECTION.sub(
            lambda m: f"{m.group(1)}.. rubric:: {m.group(2)}\n"
            if len(m.group(3)) == len(m.group(2)) else m.group(0), text)
        lines[:] = _uncited_as_text(text).split("\n")
        return
    missing = sorted(set(_CITED.findall(text)) - set(_DEFINED.findall(text)))
    if not missing:
        lines[:] = _uncited_as_text(text).split("\n")
        return
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None and inspect.ismethod(obj):
        module = sys.modules.get(obj.__func__.__module__)
    available = _citations(inspect.getdoc(module) or "") if module else {}
    found = [label for label in missing if label in available]
    if not found:
        return
    entries = [line for label in found for line in available[label]]
    if _DEFINED.search(text):
        # Own References section: add the module's entries after its last one.
        last = max(i for i, line in enumerate(lines) if _DEFINED.match(line))
        end = last + 1
        while end < len(lines) and lines[end].startswith(" ") and lines[end].strip():
            end += 1
        lines[end:end] = entries
    else:
        lines += ["", "References", "----------", *entries]
    lines[:] = _uncited_as_text("\n".join(lines)).split("\n")


def _uncited_as_text(text):
    """Turn citations that the docstring never cites into plain paragraphs.

    A module's References list the papers its functions cite (each function
    gets its own copy above); as citations nobody cites on the page, Sphinx
    would warn "Citation [...] is not referenced".
    """
    cited = set(_CITED.findall(text))
    out, in_entry = [], False
    for line in text.split("\n"):
        match = re.match(r"^(\s*)\.\. \[(\w+)\] ?(.*)$", line)
        if match and match.group(2) not in cited:
            if out and out[-1].strip():
                out.append("")
            out.append(f"{match.group(1)}[{match.group(2)}] {match.group(3)}".rstrip())
            in_entry = True
        elif in_entry and line.strip() and line.startswith(" ") and not match:
            out[-1] += " " + line.strip()
        else:
            if in_entry and line.strip():
                out.append("")
            in_entry = False
            out.append(line)
    return "\n".join(out)


def setup(app):
    app.add_directive("aimnotes-api", AimnotesApi)
    # Before numpydoc's own handler (priority 500).
    app.connect("autodoc-process-docstring", _prepare_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
