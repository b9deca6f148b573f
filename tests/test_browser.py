r"""The built book in a real browser: every page of ``_build/html`` in headless Chromium.

For each HTML page, served by a local HTTP server started here, with every
request to another host blocked (the book must work offline):

* no console error and no uncaught JavaScript exception;
* no failed or blocked request, and every local resource answers 200;
* every image (figures included) loads and has a size;
* every internal link points to an existing page, and its ``#fragment`` to
  an element of that page;
* the mathematics is typeset: MathJax (3.2.2, loaded from the book's own
  ``_static/mathjax``) rendered every ``.math`` element, and no raw
  ``$...$``, ``\(...\)`` or ``\[...\]`` is left in the text.

Skipped, with the reason, when there is no built book (``make book``), no
Chromium (``apt-get install -y chromium``) or no playwright (the ``test``
extra). ``make browser-test`` runs only this file; ``make test`` runs it too
when a built book is present. ``AIMNOTES_BOOK_HTML`` points it at another
build, ``AIMNOTES_CHROMIUM`` at another Chromium binary.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("AIMNOTES_BOOK_HTML", ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("AIMNOTES_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MATHJAX_VERSION = "3.2.2"
# Folders of the build that hold no pages of the book.
NOT_PAGES = {"_static", "_sources", "_images", "_downloads", "_sphinx_design_static",
             "jupyter_execute", "reports", ".doctrees"}
PAGE_TIMEOUT_MS = 60_000


def _pages():
    if not (BUILD / "index.html").is_file():
        return []
    pages = []
    for path in sorted(BUILD.rglob("*.html")):
        rel = path.relative_to(BUILD)
        if rel.parts[0] in NOT_PAGES:
            continue
        pages.append(rel.as_posix())
    return pages


PAGES = _pages()


def _skip_reason():
    if not PAGES:
        return f"no built book in {BUILD} (run `make book`)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -c constraints.txt -e '.[test]')"
    return None


SKIP = _skip_reason()
# `make browser-test` (and CI after `make book`) sets it: there a skip is a failure.
REQUIRED = os.environ.get("AIMNOTES_REQUIRE_BROWSER_TEST") == "1"


def test_browser_test_can_run():
    if SKIP is None:
        return
    if REQUIRED:
        pytest.fail(f"the browser test cannot run: {SKIP}")
    pytest.skip(SKIP)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(BUILD))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        # A persistent context is how playwright takes a fresh --user-data-dir.
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            service_workers="block",
        )
        yield context
        context.close()


@functools.lru_cache(maxsize=None)
def _ids(page_path):
    """Element ids (and legacy ``name`` anchors) of a built page."""
    text = (BUILD / page_path).read_text(encoding="utf-8", errors="replace")
    return set(re.findall(r'\s(?:id|name)="([^"]+)"', text))


# Text of the page outside code, with the maths that MathJax left untypeset.
_RAW_MATH_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea')
      .forEach(e => e.remove());
  return copy.innerText;
}"""

_IMAGES_JS = """async () => {
  const out = [];
  for (const img of Array.from(document.images)) {
    img.loading = 'eager';
    if (!img.complete) {
      await new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r);
                               setTimeout(r, 10000); });
    }
    out.push({src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0});
  }
  return out;
}"""

_MATH_JS = """async () => {
  const nodes = Array.from(document.querySelectorAll('.math'));
  if (!nodes.length) return {n: 0};
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  for (let i = 0; i < 200 && !ready(); i++) await new Promise(r => setTimeout(r, 50));
  if (!ready()) return {n: nodes.length, loaded: false};
  const timeout = new Promise(r => setTimeout(() => r('timeout'), 30000));
  const done = await Promise.race([
    MathJax.startup.promise.then(() => MathJax.typesetPromise ? MathJax.typesetPromise() : null),
    timeout]);
  if (done === 'timeout') return {n: nodes.length, loaded: false};
  return {
    n: nodes.length, loaded: true, version: MathJax.version,
    untypeset: nodes.filter(e => !e.querySelector('mjx-container'))
                    .map(e => e.textContent.slice(0, 80)),
    errors: Array.from(document.querySelectorAll('mjx-merror'))
                 .map(e => e.textContent.slice(0, 80)),
  };
}"""

# Raw TeX delimiters, and reStructuredText roles that leaked into the text unparsed.
_RAW_MATH = re.compile(r"(?<![\w\\])\$[^$\s][^$\n]*?\$|\\\(.+?\\\)|\\\[.+?\\\]|\$\$"
                       r"|:(?:math|func|class|meth|mod|ref|attr|data|cite):`")


_REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
@pytest.mark.parametrize("page_path", PAGES or ["(no built book)"])
def test_page(page_path, server, browser):
    redirect = _REDIRECT.search((BUILD / page_path).read_text(encoding="utf-8"))
    if redirect:  # index.html: a redirect to the first page, nothing else to check
        target = (BUILD / page_path).parent / urldefrag(redirect.group(1))[0]
        assert target.is_file(), f"{page_path} redirects to a missing page {redirect.group(1)}"
        return
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    problems, requests, blocked = [], [], []

    def route(r):
        url = r.request.url
        if urlparse(url).hostname in ("127.0.0.1", "localhost") or url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(
        f"console error: {m.text} ({m.location.get('url')})"))
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: r.url not in blocked and problems.append(
        f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(
        f"HTTP {r.status}: {r.url}"))
    try:
        page.goto(f"{server}/{page_path}", wait_until="load", timeout=PAGE_TIMEOUT_MS)

        math = page.evaluate(_MATH_JS)
        if math["n"]:
            if not math.get("loaded"):
                problems.append(f"{math['n']} maths elements but MathJax did not load "
                                "(or did not finish typesetting in 30 s)")
            else:
                if math["version"] != MATHJAX_VERSION:
                    problems.append(f"MathJax {math['version']}, expected {MATHJAX_VERSION}")
                if math["untypeset"]:
                    problems.append(f"maths not typeset: {math['untypeset'][:3]}")
                if math["errors"]:
                    problems.append(f"MathJax errors: {math['errors'][:3]}")
            local = [u for u in requests if urlparse(u).path.endswith(
                "/_static/mathjax/tex-mml-chtml.js")]
            if not local:
                mj = [u for u in requests + blocked if "mathjax" in u.lower()]
                problems.append(f"MathJax not loaded from the book's _static/mathjax: {mj}")
        raw = _RAW_MATH.findall(page.evaluate(_RAW_MATH_JS))
        if raw:
            problems.append(f"raw maths (or reST roles) left in the text: {raw[:3]}")

        for img in page.evaluate(_IMAGES_JS):
            if not img["ok"]:
                problems.append(f"image does not load: {img['src']}")

        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in sorted(set(hrefs)):
            parsed = urlparse(href)
            if parsed.scheme not in ("http", "https") or parsed.netloc != urlparse(server).netloc:
                continue
            target, fragment = urldefrag(href)
            rel = unquote(urlparse(target).path).lstrip("/") or "index.html"
            if rel.endswith("/"):
                rel += "index.html"
            path = BUILD / rel
            if not path.is_file():
                problems.append(f"broken link: {href}")
            elif fragment and path.suffix == ".html" and unquote(fragment) not in _ids(rel):
                problems.append(f"link to a missing anchor: {href}")
    finally:
        page.close()
    if blocked:
        problems.append(f"requests to other hosts (blocked): {sorted(set(blocked))[:5]}")
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)
