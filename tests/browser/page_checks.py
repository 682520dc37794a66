"""The checks every page must pass (issue 5, "Everywhere"): axe-core, the keyboard, requests, screenshots.

Each check returns a list of problems, one readable line each, so a test
asserts the list is empty and a failure names every element at fault.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from axe_playwright_python.base import AXE_SCRIPT
from playwright.async_api import Browser, BrowserContext, Page, Request, WebSocket

from telepractice.testing.server import RunningServer
from tests.browser.conftest import WAIT_MS
from tests.unit.test_translations import PLACEHOLDER, english_only_texts, load_tables

Language = Literal["pt", "en"]
Size = Literal["phone", "desktop"]

SIZES: dict[Size, dict[str, int]] = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
# The browser's own language: what a page shows to someone who has not chosen one yet.
LOCALES: dict[Language, str] = {"pt": "pt-PT", "en": "en-GB"}
# WCAG 2.0 and 2.1, levels A and AA: the rules issue 5 holds every page to (best-practice rules are not among them).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# axe-core is evaluated through Playwright (CDP Runtime.evaluate), which the page's CSP does not govern: the
# pages forbid inline and injected scripts (script-src 'self'), so page.add_script_tag would be refused, and a
# bypass_csp context would check a page weaker than the one people get. Evaluating keeps the real CSP in force.
RUN_AXE = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary || ''})),
  }));
}
"""


async def axe_violations(page: Page) -> list[str]:
    """Every WCAG 2.0/2.1 A and AA violation axe-core finds on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SCRIPT)
    violations = await page.evaluate(RUN_AXE, WCAG_TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {' '.join(node['summary'].split())}"
            for v in violations for node in v["nodes"]]


# Marks every control a person could operate and notes how each looks before it has focus.
MARK_CONTROLS = """
() => {
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex],'
    + ' video[controls], audio[controls], [contenteditable=""], [contenteditable="true"]';
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
    && !el.closest('[inert]') && !el.closest('[hidden]');
  const controls = [...document.querySelectorAll(selector)].filter((el) =>
    shown(el) && !el.disabled && el.getAttribute('tabindex') !== '-1' && !el.closest('fieldset:disabled'));
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  window.__describe = (el) => {
    const name = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title')
                  || el.getAttribute('name') || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${name}"`;
  };
  window.__controlElements = controls;
  window.__controls = controls.map((el, index) => {
    el.dataset.keyboardCheck = String(index);
    return {
      what: window.__describe(el),
      boxShadow: getComputedStyle(el).boxShadow,
      radioGroup: el.type === 'radio' ? `${el.form ? 'form' : ''}:${el.name}` : null,
    };
  });
  return window.__controls.length;
}
"""

# What has focus now (as indices of the marked controls), and whether it shows: an outline drawn, or a box
# shadow it lacked without focus. A page may redraw a part meanwhile (the console's menu on each alert poll):
# a new element stands for the marked ones it replaced that read the same.
FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  let indices;
  if (el.dataset.keyboardCheck !== undefined) indices = [Number(el.dataset.keyboardCheck)];
  else {
    const what = window.__describe(el);
    indices = window.__controls.map((control, index) => index)
      .filter((index) => !window.__controlElements[index].isConnected && window.__controls[index].what === what);
  }
  if (!indices.length) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== 'none' && style.boxShadow !== window.__controls[indices[0]].boxShadow;
  return {indices, visible: outline || shadow};
}
"""


async def keyboard_problems(page: Page) -> list[str]:
    """Every visible control can be reached with Tab, and shows that it has focus when it does."""
    count = await page.evaluate(MARK_CONTROLS)
    reached: dict[int, bool] = {}
    # Twice round plus a little: wherever Tab starts, every control comes up at least once.
    for _ in range(2 * count + 3):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        for index in focused["indices"] if focused else ():
            reached[index] = reached.get(index, False) or focused["visible"]
    controls = await page.evaluate("() => window.__controls")
    await page.evaluate("() => { for (const el of document.querySelectorAll('[data-keyboard-check]'))"
                        " delete el.dataset.keyboardCheck; document.activeElement?.blur(); }")
    # Tab enters a group of radio buttons once; the arrow keys move within it.
    groups_reached = {controls[index]["radioGroup"] for index in reached} - {None}
    problems = [f"not reachable with Tab: {control['what']}" for index, control in enumerate(controls)
                if index not in reached and control["radioGroup"] not in groups_reached]
    problems += [f"no visible focus: {controls[index]['what']}" for index, visible in reached.items() if not visible]
    return problems


# Everything a person sees or hears read out: rendered text, the title, and the names of what is rendered.
SHOWN_TEXT = """
() => {
  const names = [...document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')]
    .filter((el) => el.getClientRects().length > 0)
    .flatMap((el) => ['aria-label', 'title', 'placeholder', 'alt'].map((name) => el.getAttribute(name) || ''));
  return [document.title, document.body.innerText, ...names].join('\\n');
}
"""
MIN_FRAGMENT = 4  # shorter pieces ("You", "OK") also occur inside other words and names


def english_fragments() -> set[str]:
    """The English-only pieces of every table: texts split at their {placeholders}, none found in any pt text."""
    portuguese = "\n".join(text for table in load_tables().values() for text in table["pt"].values())
    pieces = {piece.strip(" .,:;…–-") for text in english_only_texts() for piece in PLACEHOLDER.split(text)[::2]}
    return {piece for piece in pieces if len(piece) >= MIN_FRAGMENT and piece not in portuguese}


async def english_shown(page: Page) -> list[str]:
    """English words from the tables that a page meant to be Portuguese shows or names."""
    shown = await page.evaluate(SHOWN_TEXT)
    return [f"English text shown: {piece!r}" for piece in sorted(english_fragments()) if piece in shown]


def screenshot_path(output_dir: Path, page_name: str, state: str, language: Language, size: Size) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{page_name}-{state}-{language}-{size}.png"


async def check_state(page: Page, output_dir: Path, page_name: str, state: str, language: Language,
                      size: Size, *, shown_language: str | None = None) -> list[str]:
    """Screenshot the state, then run axe-core and the keyboard check on it; every problem found.

    ``shown_language`` is for a page that deliberately shows one language whatever ``language`` is.
    """
    await page.screenshot(path=str(screenshot_path(output_dir, page_name, state, language, size)), full_page=True)
    lang = await page.evaluate("() => document.documentElement.lang")
    expected = shown_language or language
    problems = [] if lang == expected else [f"<html lang> is {lang!r}, not {expected!r}"]
    if expected == "pt":
        problems += await english_shown(page)
    problems += await axe_violations(page)
    problems += await keyboard_problems(page)
    return [f"{page_name}/{state} ({language}, {size}): {problem}" for problem in problems]


@dataclasses.dataclass
class RequestLog:
    """Every request the pages of a test made: HTTP from pages, their workers and new tabs, and WebSockets."""

    urls: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # The same request can be reported by its page and by its context: kept here (alive, so no id is reused).
    _seen: dict[int, Request] = dataclasses.field(default_factory=dict)
    _contexts: set[int] = dataclasses.field(default_factory=set)

    def watch(self, label: str, context: BrowserContext, page: Page) -> None:
        def on_request(request: Request) -> None:
            if id(request) not in self._seen:
                self._seen[id(request)] = request
                self.urls.append((label, request.url))

        def on_websocket(socket: WebSocket) -> None:
            self.urls.append((label, socket.url))

        if id(context) not in self._contexts:
            self._contexts.add(id(context))
            context.on("request", on_request)
        page.on("request", on_request)
        page.on("websocket", on_websocket)
        page.on("worker", lambda worker: self.urls.append((label, worker.url)))

    def foreign(self, origin: str) -> list[str]:
        """Requests that went anywhere but ``origin`` (its https and wss), data: or blob:."""
        own = urlsplit(origin)
        allowed = {("https", own.netloc), ("wss", own.netloc)}
        return [f"{label}: {url}" for label, url in self.urls
                if urlsplit(url).scheme not in ("data", "blob")
                and (urlsplit(url).scheme, urlsplit(url).netloc) not in allowed]


class CheckedPages:
    """Opens pages as a person would: their phone or computer, their browser's language, every request logged."""

    def __init__(self, browser: Browser, server: RunningServer) -> None:
        self.browser = browser
        self.server = server
        self.requests = RequestLog()
        self.errors: dict[str, list[str]] = {}
        self.contexts: list[BrowserContext] = []

    async def open(self, label: str, path_and_fragment: str, *, language: Language = "en",
                   size: Size = "desktop", **context_options: Any) -> Page:
        context = await self.browser.new_context(
            ignore_https_errors=True, viewport=SIZES[size], locale=LOCALES[language],
            is_mobile=size == "phone", has_touch=size == "phone", **context_options)
        self.contexts.append(context)
        page = await context.new_page()
        self.adopt(label, page)
        await page.goto(self.server.origin + path_and_fragment)
        return page

    def adopt(self, label: str, page: Page) -> None:
        """Watch a page of one of these contexts that the page itself opened (a new tab): requests, errors."""
        page.set_default_timeout(WAIT_MS)
        self.requests.watch(label, page.context, page)
        errors = self.errors.setdefault(label, [])
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(f"{message.text} ({message.location.get('url')})")
                if message.type == "error" else None)

    def page_errors(self) -> dict[str, list[str]]:
        return {label: errors for label, errors in self.errors.items() if errors}

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
