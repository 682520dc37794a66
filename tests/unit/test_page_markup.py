"""Every page under web/ keeps to the strict CSP by construction: no inline script or style, nothing from elsewhere.

The server's CSP (telepractice/http.py) would block these in a browser anyway;
this test names the file and line before anyone has to find out from a
blank page, and also checks the CSP itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from telepractice.http import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

WEB = Path(__file__).resolve().parents[2] / "web"
PAGES = sorted(WEB.rglob("*.html"))
SCRIPTS = sorted(WEB.rglob("*.js"))
STYLES = sorted(WEB.rglob("*.css"))

# An address that leaves the server: a scheme with host, or protocol-relative.
ELSEWHERE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "srcset", "data", "cite", "background",
                  "manifest", "ping", "xlink:href"}


class PageAudit(HTMLParser):
    """Collects every way a page could run inline code, carry inline style or reach another origin."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.lang: str | None = None
        self.title = False
        self.module: str | None = None  # the page's module script, /static/js/...
        self.preloaded: list[str] = []  # its <link rel="modulepreload"> addresses, in order
        self._in_script = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"line {line}: <{tag} {name}=...> is an inline event handler")
            if name == "style":
                self.problems.append(f"line {line}: <{tag} style=...> is an inline style")
            if name in URL_ATTRIBUTES and ELSEWHERE.match(value):
                self.problems.append(f"line {line}: <{tag} {name}={value!r}> reaches another origin")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"line {line}: <{tag} {name}={value!r}> is inline script")
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "style":
            self.problems.append(f"line {line}: <style> is an inline style sheet")
        if tag == "script":
            self._in_script = True
            if values.get("type") != "module" or not values.get("src", "").startswith("/static/js/"):
                self.problems.append(f"line {line}: <script> must be type=module with src under /static/js/")
            elif not (WEB / values["src"].removeprefix("/static/")).is_file():
                self.problems.append(f"line {line}: <script src={values['src']!r}> names no file under web/")
        if tag == "script" and values.get("type") == "module":
            self.module = values.get("src")
        if tag == "link" and values.get("rel") == "modulepreload":
            self.preloaded.append(values.get("href", ""))
        if tag == "link" and values.get("rel") == "stylesheet":
            if not (WEB / values.get("href", "").removeprefix("/static/")).is_file():
                self.problems.append(f"line {line}: <link href={values.get('href')!r}> names no file under web/")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.problems.append(f"line {line}: <meta http-equiv=refresh> navigates without the person")
        if tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"line {self.getpos()[0]}: <script> has an inline body")
        if self._in_title and data.strip():
            self.title = True


def audit(path: Path) -> PageAudit:
    parser = PageAudit()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_there_are_pages_to_check() -> None:
    assert {"index.html", "call.html"} <= {path.name for path in PAGES}


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(WEB)))
def test_a_page_has_no_inline_script_or_style_and_reaches_no_other_origin(path: Path) -> None:
    assert audit(path).problems == []


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(WEB)))
def test_a_page_says_its_language_and_has_a_title(path: Path) -> None:
    page = audit(path)
    assert page.lang in ("pt", "en"), "<html lang> must be set (pages set it again to the language shown)"
    assert page.title, "<title> must not be empty: a screen reader announces it first"


# A static import or re-export (across lines too), or an import for its effect alone; not import() in a type.
IMPORT = re.compile(r"""^\s*(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]""",
                    re.MULTILINE)


def imported_modules(entry: Path) -> list[Path]:
    """Every module ``entry`` imports, directly or through others, nearest first."""
    found: list[Path] = []
    queue = [entry.resolve()]
    while queue:
        module = queue.pop(0)
        for direct, for_effect in IMPORT.findall(module.read_text(encoding="utf-8")):
            dependency = (module.parent / (direct or for_effect)).resolve()
            if dependency != entry.resolve() and dependency not in found:
                found.append(dependency)
                queue.append(dependency)
    return found


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(WEB)))
def test_a_page_preloads_every_module_its_script_imports_and_nothing_else(path: Path) -> None:
    # Without the list the browser finds each level of imports only once the level above has arrived: on a
    # phone's 100 ms round trip the call page showed video 0.25 s later (bench/README.md, "Module preloads").
    page = audit(path)
    assert page.module is not None
    expected = [f"/static/{module.relative_to(WEB)}"
                for module in imported_modules(WEB / page.module.removeprefix("/static/"))]
    wanted = "".join(f'\n  <link rel="modulepreload" href="{href}">' for href in expected)
    assert sorted(page.preloaded) == sorted(expected), f"after the module script, {path.name} should have:{wanted}"
    assert len(set(page.preloaded)) == len(page.preloaded)


def test_the_import_graph_follows_imports_across_lines_and_through_levels(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "entry.js").write_text("import {\n  a,\n  b,\n} from './lib/a.js';\nimport './effect.js';\n"
                                       "/** @type {import('./typed.js').T} */\nexport { c } from './c.js';\n")
    (tmp_path / "lib" / "a.js").write_text("import { d } from '../d.js';\nimport { e } from './e.js';\n")
    for name in ("effect.js", "c.js", "d.js", "lib/e.js", "typed.js"):
        (tmp_path / name).write_text("export const x = 1;\n")
    found = [module.relative_to(tmp_path.resolve()).as_posix() for module in imported_modules(tmp_path / "entry.js")]
    assert found == ["lib/a.js", "effect.js", "c.js", "d.js", "lib/e.js"]


# Code the CSP forbids without 'unsafe-eval', and a string that would load from elsewhere.
EVAL = re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|setTimeout\s*\(\s*['\"`]|setInterval\s*\(\s*['\"`]")
ABSOLUTE_URL = re.compile(r"['\"`](?:https?:|wss?:)?//[a-z0-9.-]+", re.IGNORECASE)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: str(path.relative_to(WEB)))
def test_a_script_evaluates_no_strings_and_names_no_other_origin(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    problems = [f"line {number}: {line.strip()}" for number, line in enumerate(lines, 1)
                if not line.lstrip().startswith(("//", "*", "/*"))
                and (EVAL.search(line) or ABSOLUTE_URL.search(line))]
    assert problems == []


@pytest.mark.parametrize("path", STYLES, ids=lambda path: str(path.relative_to(WEB)))
def test_a_style_sheet_loads_nothing_from_another_origin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.findall(r"(?:url\(|@import)\s*['\"]?\s*(?:[a-z]+:)?//[^)'\"\s]*", text, re.IGNORECASE) == []


def test_the_content_security_policy_allows_only_this_origin_and_nothing_unsafe() -> None:
    directives = dict((part.split(maxsplit=1) + [""])[:2] for part in CONTENT_SECURITY_POLICY.split("; "))
    allowed_sources = {"'self'", "'none'", "data:", "blob:"}
    for name, sources in directives.items():
        assert set(sources.split()) <= allowed_sources, f"{name} allows {sources}"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    for name in ("default-src", "script-src", "style-src", "connect-src", "object-src", "base-uri",
                 "frame-ancestors"):
        assert name in directives, f"{name} must be set, not left to a default"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert SECURITY_HEADERS["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_audit_names_each_way_a_page_could_break_the_policy() -> None:
    parser = PageAudit()
    parser.feed('<html><head><script>alert(1)</script><style>p{}</style>'
                '<script type="module" src="https://cdn.example/x.js"></script></head>'
                '<body onload="go()"><p style="color:red"><a href="//fonts.example/f">f</a>'
                '<a href="javascript:go()">g</a><img src="/static/ok.png"></body></html>')
    found = " | ".join(parser.problems)
    for expected in ("inline body", "inline style sheet", "type=module with src under /static/js/",
                     "onload=...> is an inline event handler", "style=...> is an inline style",
                     "'//fonts.example/f'> reaches another origin", "'javascript:go()'> is inline script"):
        assert expected in found
    assert "ok.png" not in found
