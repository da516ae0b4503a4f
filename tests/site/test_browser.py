"""The built course site in a real browser (headless Debian Chromium, driven by selenium).

Every page is opened once from the folder (file://), as a student who downloaded
the site would, and what the browser saw is recorded: console messages, every
request it made, every image and whether it decoded, every link, and MathJax's
output.  The tests below then check, over all pages:

* no page logs a console error;
* the browser fetches nothing from outside the site folder (no CDN, no fonts
  from the web: the maths comes from the bundled MathJax);
* every image decodes (a real bitmap or SVG with a size, not a broken icon);
* every internal link resolves, to a file that exists and, with a #fragment,
  to an element with that id;
* maths is typeset, with no MathJax error;
* the strategy explorer shows, after each choice in each menu, the drawings and
  plan of exactly the grid point the menus name;
* the same holds on a static HTTP server.

Screenshots of the index, a lesson and the explorer go to docs/_build/screenshots/.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

pytestmark = pytest.mark.browser

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:", "chrome-error:")

#: what the page reports once it has loaded: its images decoded (or not), links, maths
INSPECT = r"""
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
const decoded = images.map(img => { img.loading = "eager"; return img.decode().then(
    () => (img.naturalWidth > 0 ? null : (img.currentSrc || img.src)), () => (img.currentSrc || img.src || "(no src)")); });
const maths = document.querySelectorAll(".math.notranslate").length;
const typeset = (maths && window.MathJax && MathJax.startup && MathJax.startup.promise) ?
    MathJax.startup.promise : Promise.resolve();
Promise.all(decoded).then(bad => typeset.then(() => done({
    images: images.length,
    undecoded: bad.filter(x => x),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
    maths: maths,
    mathjax: !!window.MathJax,
    typeset: document.querySelectorAll("mjx-container").length,
    math_errors: document.querySelectorAll("mjx-merror").length,
})));
"""


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def drain(browser) -> tuple[list[str], list[str]]:
    """(console errors, URLs requested) since the last call."""
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    requested = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    return errors, requested


def visit(browser, url: str) -> dict:
    drain(browser)
    browser.get(url)
    report = browser.execute_async_script(INSPECT)
    report["errors"], report["requested"] = drain(browser)
    return report


@pytest.fixture(scope="session")
def visits(site, browser) -> dict:
    """{page: what the browser saw} for every page of the site, opened from the folder."""
    seen = {}
    for page in pages(site):
        seen[page] = visit(browser, page.as_uri())
    return seen


def test_the_site_has_its_sections(site):
    for page in ("index.html", "explorer.html", "lessons.html", "gallery.html", "assignments.html",
                 "benchmarks.html", "api.html", "api/minigrad.html", "api/rnn.html", "explorer/data.js"):
        assert (site / page).exists(), f"{page} is missing from {site}"
    assert len(list((site / "lessons").glob("*.html"))) >= 6, "fewer than six lesson pages"
    assert list((site / "handouts").glob("a*.html")), "no assignment handout pages"


def test_every_page_loads_without_console_errors(visits, site):
    failures = [f"{page.relative_to(site)}: {error}" for page, seen in visits.items() for error in seen["errors"]]
    assert not failures, f"{len(failures)} console error(s):\n" + "\n".join(failures[:40])


def test_the_browser_fetches_nothing_from_outside_the_site(visits, site):
    outside = sorted({f"{page.relative_to(site)}: {url}" for page, seen in visits.items()
                      for url in seen["requested"] if not url.startswith(LOCAL_SCHEMES)})
    assert not outside, "requests to the network:\n" + "\n".join(outside[:40])
    escaped = sorted({f"{page.relative_to(site)}: {url}" for page, seen in visits.items()
                      for url in seen["requested"] if url.startswith("file:")
                      and not _inside(Path(unquote(urlparse(url).path)), site)})
    assert not escaped, "files fetched from outside the site folder:\n" + "\n".join(escaped[:40])


def test_every_image_decodes(visits, site):
    total = sum(seen["images"] for seen in visits.values())
    assert total >= 40, f"only {total} images on the whole site: the lessons' figures and the drawings are missing"
    broken = [f"{page.relative_to(site)}: {src}" for page, seen in visits.items() for src in seen["undecoded"]]
    assert not broken, f"{len(broken)} image(s) did not decode:\n" + "\n".join(broken[:40])


def test_internal_links_resolve(visits, site):
    ids = {}
    broken, checked = [], 0
    for page, seen in visits.items():
        for href in seen["links"]:
            if not href.startswith("file:"):
                continue  # links out of the site (a paper, a project's home page) are not fetched
            url, fragment = urldefrag(href)
            target = Path(unquote(urlparse(url).path))
            checked += 1
            if target.is_dir():
                target = target / "index.html"
            if not _inside(target, site) or not target.is_file():
                broken.append(f"{page.relative_to(site)} -> {href}: no such file in the site")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _ids(target)
                if unquote(fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(site)} -> {href}: no element with id {fragment!r}")
    assert checked > 500, f"only {checked} internal links checked: the pages' navigation is missing"
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken[:40])


def test_maths_is_typeset_by_the_bundled_mathjax(visits, site):
    with_maths = {page: seen for page, seen in visits.items() if seen["maths"]}
    assert any(page.parent.name == "lessons" for page in with_maths), "no lesson shows maths"
    for page, seen in with_maths.items():
        name = page.relative_to(site)
        assert seen["mathjax"], f"{name}: {seen['maths']} maths element(s) but MathJax did not load"
        assert seen["typeset"] >= seen["maths"], f"{name}: {seen['typeset']} of {seen['maths']} formulas typeset"
        assert not seen["math_errors"], f"{name}: {seen['math_errors']} MathJax error(s)"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


# -- the strategy explorer -----------------------------------------------------------------------
def shown(browser) -> dict:
    """What the explorer shows now: the menus, the graph's key and drawings, the plan's size."""
    return browser.execute_async_script(r"""
const done = arguments[arguments.length - 1];
const images = ["graph-compact", "graph-heat"].map(id => document.getElementById(id));
Promise.all(images.map(img => img.decode().then(() => img.naturalWidth > 0, () => false))).then(ok => done({
    strategy: document.getElementById("strategy").value,
    params: Object.fromEntries(Array.from(document.querySelectorAll("#params select")).map(s => [s.dataset.param, s.value])),
    T: document.getElementById("T").value,
    R: document.getElementById("radius").value,
    key: document.getElementById("graph").dataset.key,
    compact: images[0].getAttribute("src"),
    heat: images[1].getAttribute("src"),
    decoded: ok,
    columns: document.querySelectorAll("#plan .explorer-timeline tr:first-child th").length,
    stats: document.querySelectorAll("#stats tr").length,
    norms: document.querySelectorAll("#norms rect").length,
}));
""")


def expected_key(state: dict, strategies: dict) -> str:
    names = [p["name"] for p in strategies[state["strategy"]]["params"]]
    return "|".join([state["strategy"], *(f"{n}={state['params'][n]}" for n in names), f"T={state['T']}",
                     f"R={state['R']}"])


def check_shown(browser, entries: dict, strategies: dict, what: str) -> dict:
    state = shown(browser)
    key = expected_key(state, strategies)
    assert key in entries, f"after {what}: the menus name {key}, which is not a grid point"
    assert state["key"] == key, f"after {what}: the graph shows {state['key']}, the menus say {key}"
    entry = entries[key]
    assert state["compact"] == "explorer/" + entry["compact"], f"after {what}: wrong unrolled drawing"
    assert state["heat"] == "explorer/" + entry["heat"], f"after {what}: wrong heat drawing"
    assert all(state["decoded"]), f"after {what}: a drawing did not decode ({state['compact']}, {state['heat']})"
    assert state["columns"] == int(state["T"]) + 1, f"after {what}: the plan has {state['columns'] - 1} steps"
    assert state["stats"] >= 4 and state["norms"] > 0, f"after {what}: the numbers are missing"
    return state


def choose(browser, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", select_id)).select_by_value(value)


def enabled_options(browser, select_id: str) -> list[str]:
    return browser.execute_script(
        "return Array.from(document.getElementById(arguments[0]).options).filter(o => !o.disabled).map(o => o.value)",
        select_id)


def test_the_explorer_redraws_on_each_choice(site, browser, screenshots):
    drain(browser)
    browser.get((site / "explorer.html").as_uri())
    data = browser.execute_script("return window.EXPLORER_DATA")
    assert data, "explorer/data.js did not load"
    entries, strategies = data["entries"], {s["name"]: s for s in data["strategies"]}
    assert browser.find_element("css selector", "select#strategy").tag_name == "select"
    state = check_shown(browser, entries, strategies, "loading the page")
    choices = 0
    for name in strategies:
        choose(browser, "strategy", name)
        previous = check_shown(browser, entries, strategies, f"choosing strategy {name}")
        assert previous["strategy"] == name
        menus = [f"param-{p['name']}" for p in strategies[name]["params"]] + ["T", "radius"]
        for menu in menus:
            for value in enabled_options(browser, menu):
                current = shown(browser)
                if browser.find_element("id", menu).get_attribute("value") == value:
                    continue
                choose(browser, menu, value)
                state = check_shown(browser, entries, strategies, f"{name}: choosing {menu} = {value}")
                assert state["key"] != current["key"], f"{name}: choosing {menu} = {value} changed nothing"
                if menu in ("T", "radius"):  # the heat depends on both; the unrolled graph on T
                    assert state["heat"] != current["heat"], f"{name}: {menu} = {value} kept the same heat drawing"
                choices += 1
    assert choices >= 40, f"only {choices} choices tried"
    errors, requested = drain(browser)
    assert not errors, "console errors while choosing:\n" + "\n".join(errors)
    assert all(url.startswith(LOCAL_SCHEMES) for url in requested), [u for u in requested if not u.startswith(LOCAL_SCHEMES)]

    # the README's and the review's pictures
    browser.get((site / "explorer.html").as_uri() + "#" + "tbptt%7Ck1%3D3%7Ck2%3D5%7CT%3D12%7CR%3D1")
    assert shown(browser)["key"] == "tbptt|k1=3|k2=5|T=12|R=1", "a #fragment did not select its grid point"
    _screenshot(browser, screenshots / "explorer.png", scroll_to="controls")
    _region(browser, screenshots / "explorer-menus-and-graph.png", "controls", "graph")  # the README's picture
    _screenshot(browser, screenshots / "explorer-full.png", full=True)
    choose(browser, "strategy", "randomized")
    _screenshot(browser, screenshots / "explorer-randomized-full.png", full=True)


def test_the_site_works_from_a_static_http_server(served, browser):
    for page in ("index.html", "lessons/01_tapes_and_reverse_mode.html", "explorer.html"):
        seen = visit(browser, served + page)
        assert not seen["errors"], f"{page} over HTTP: console errors {seen['errors']}"
        assert not seen["undecoded"], f"{page} over HTTP: images that did not decode {seen['undecoded']}"
        outside = [u for u in seen["requested"] if not u.startswith((served, "data:", "blob:", "about:"))]
        assert not outside, f"{page} over HTTP fetched {outside}"
    before = browser.find_element("id", "graph").get_attribute("data-key")
    choose(browser, "strategy", "chunked")
    after = browser.find_element("id", "graph").get_attribute("data-key")
    assert after.startswith("chunked|") and after != before


def test_screenshots_of_the_index_and_a_lesson(site, browser, screenshots):
    browser.get((site / "index.html").as_uri())
    _screenshot(browser, screenshots / "index.png")
    lesson = sorted((site / "lessons").glob("0[2-9]*.html"))[0]
    browser.get(lesson.as_uri())
    browser.execute_async_script("const done = arguments[arguments.length - 1];"
                                 "(window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve())"
                                 ".then(() => done(null));")
    _screenshot(browser, screenshots / "lesson.png", scroll_to="mjx-container")
    for name in ("index.png", "lesson.png"):
        assert (screenshots / name).read_bytes().startswith(b"\x89PNG")


# -- helpers ----------------------------------------------------------------------------------------
def _screenshot(browser, path: Path, full: bool = False, scroll_to: str | None = None) -> None:
    """A PNG of the viewport (1280 x 900), or of the whole page; scrolled to an element first if asked."""
    if full:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(int(height) + 100, 8000))
    if scroll_to:
        browser.execute_script("const e = document.getElementById(arguments[0]) || document.querySelector(arguments[0]);"
                               "if (e) { e.scrollIntoView(); window.scrollBy(0, -16); }", scroll_to)
    browser.save_screenshot(str(path))
    browser.set_window_size(1280, 900)
    assert path.read_bytes().startswith(b"\x89PNG")


def _region(browser, path: Path, first: str, last: str) -> None:
    """A PNG of the page from the top of element ``first`` to the bottom of element ``last``."""
    import base64

    box = browser.execute_script("""
        const a = document.getElementById(arguments[0]).getBoundingClientRect();
        const b = document.getElementById(arguments[1]).getBoundingClientRect();
        return {x: Math.min(a.left, b.left) + scrollX - 8, y: a.top + scrollY - 8,
                width: Math.max(a.right, b.right) - Math.min(a.left, b.left) + 16, height: b.bottom - a.top + 16};""",
                                  first, last)
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": {**box, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes().startswith(b"\x89PNG")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


class _IdParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


def _ids(page: Path) -> set:
    parser = _IdParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return parser.ids

