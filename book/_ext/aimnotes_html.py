"""HTML of the book that works offline and loads without browser errors.

**MathJax from the book.**
``make mathjax`` (run by ``make book``) unpacks the pinned npm package
``mathjax`` into ``_build/mathjax/static/mathjax/``. If that copy is there,
this extension adds it to ``html_static_path`` and points ``mathjax_path`` at
``_static/mathjax/tex-mml-chtml.js``, so that ``_build/html`` renders its
mathematics with no internet. Otherwise the book keeps Sphinx's default,
MathJax 3 from the jsDelivr CDN (online reading only), and says so.

**No duplicate inline scripts.** sphinx-thebe 0.3.1 adds its configuration
script (``const THEBE_JS_URL = ...``) once per read pass, and Jupyter Book
runs more than one, so pages with code declared the constant twice (a
SyntaxError in the console). Identical scripts are dropped from each page.

``tests/test_browser.py`` checks both in Chromium.
"""

from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where ``make mathjax`` unpacks the package, relative to the book's root.
BUNDLE = Path("_build") / "mathjax" / "static"
#: The MathJax component the book loads (Sphinx's default one).
COMPONENT = "mathjax/tex-mml-chtml.js"


def _use_local_mathjax(app, config):
    static = Path(app.confdir) / BUNDLE
    if (static / COMPONENT).is_file():
        config.html_static_path = [*config.html_static_path, str(static)]
        config.mathjax_path = COMPONENT
        logger.info("aimnotes: MathJax served from the book (%s)", static / COMPONENT)
    else:
        logger.info(
            "aimnotes: no bundled MathJax in %s (run `make mathjax`): the HTML loads "
            "MathJax from %s and needs internet to show mathematics",
            static, config.mathjax_path)


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    unique, seen = [], set()
    for script in scripts:
        # The same script is registered with filename None and "" (inline).
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", getattr(script, "priority", 0),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # the builder's per-page list, restored for every page


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    # Early: html-page-context stops at the first handler returning a template.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
