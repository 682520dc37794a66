"""Time to first video in headless Chromium: a family member opens their link and sees the worker.

The real server (HTTPS/WSS with its development certificate, SQLite) and
Chromium both run inside a loopback-only network namespace
(telepractice/testing/netns.py), as the browser tests do. The worker's page is
already in the call; each round a different family member, consent on record,
opens their personal link in a fresh browser context, the bench takes the
steps a person takes on /join as soon as each shows (language, then "Join"
on the camera check: consent on record skips the consent step) and clicks
Admit as soon as the worker's page shows them waiting. Three figures per round:

- link to video: from opening the link (before ``goto``) to the worker's video
  playing on the family's page (a decoded frame shown: videoWidth > 0,
  currentTime > 0, not paused), the two steps' clicks included at machine speed;
- call page to video: from the call page's navigation start (after "Join") to
  the same moment: what the path costs once the person has said they are ready;
- admission to video: from the Admit click to the same moment.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

PLAYING = """
async ([key, waitMs]) => {
  const deadline = performance.now() + waitMs;
  while (performance.now() < deadline) {
    const video = document.querySelector(`.tile[data-key="${CSS.escape(key)}"] video`);
    if (video && video.videoWidth > 0 && !video.paused && video.currentTime > 0) {
      return {sinceNavigation: performance.now(), wall: Date.now()};
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the video of ${key} did not play within ${waitMs} ms`);
}
"""
WAIT_MS = 20_000


async def _measure(rounds: int, work: Path) -> list[dict[str, float]]:
    from playwright.async_api import async_playwright

    from telepractice.testing import netns
    from telepractice.testing.server import prepare_family_session, server_environment, settings_for, start_server

    try:
        from tests.browser.conftest import CHROMIUM_ARGS
    except ImportError:  # the list PLATFORM.md gives, should the tests move
        CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                         "--allow-loopback-in-peer-connection"]
    env = server_environment(work / "video-data")
    prepared = await prepare_family_session(settings_for(env), [f"Bench Family {i}" for i in range(rounds)])
    figures: list[dict[str, float]] = []
    with netns.namespace() as ns:
        server = start_server(ns, env, work / "video-server.log")
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(ns.chromium_wrapper(work / "bin")), args=CHROMIUM_ARGS, timeout=WAIT_MS)
                try:
                    worker_context = await browser.new_context(ignore_https_errors=True)
                    worker = await worker_context.new_page()
                    worker.set_default_timeout(WAIT_MS)
                    await worker.goto(f"{server.origin}/call#staff={prepared.worker_token}&session={prepared.session_id}")
                    await worker.wait_for_function("() => window.telepractice && window.telepractice.call")
                    await asyncio.sleep(1.0)
                    for member in prepared.family:
                        context = await browser.new_context(ignore_https_errors=True)
                        family = await context.new_page()
                        family.set_default_timeout(WAIT_MS)
                        opened = time.time()
                        await family.goto(f"{server.origin}/join#invite={member.join_token}")
                        await family.locator('main[data-step="language"] button[data-language="en"]').click()
                        await family.locator('main[data-step="preview"]').wait_for()
                        await family.locator("#join").click()
                        await family.wait_for_url("**/call")
                        admit = worker.locator(f'#waiting-list [data-participant="{member.participant_id}"] button.admit')
                        await admit.wait_for(state="visible")
                        clicked = time.time()
                        await admit.click()
                        playing = await family.evaluate(PLAYING, [prepared.worker_id, WAIT_MS])
                        figures.append({
                            "link to video s": playing["wall"] / 1000 - opened,
                            "call page to video s": playing["sinceNavigation"] / 1000,
                            "admission to video s": playing["wall"] / 1000 - clicked,
                        })
                        await context.close()
                        await asyncio.sleep(1.0)
                finally:
                    await browser.close()
        finally:
            server.stop()
    return figures


def measure_video(rounds: int, work: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Median and spread over ``rounds`` family members; empty with the reason where Chromium cannot run."""
    from telepractice.testing import netns

    reason = netns.unavailable_reason()
    if reason is not None:
        print(f"skipping time to video: {reason}")
        return {}
    return summarize_rounds(asyncio.run(_measure(rounds, work)))


def summarize_rounds(rounds_figures: list[dict[str, float]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each figure's median and spread over the rounds, as telepractice's."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name in rounds_figures[0]:
        values = [r[name] for r in rounds_figures]
        summary[name] = {"telepractice": {"median": statistics.median(values), "min": min(values), "max": max(values)}}
    return summary
