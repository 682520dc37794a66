"""A family on a slow link: the join page's first screen, its camera check and the worker's video, over 100 ms.

Families join from phones on mobile data, where each round trip costs 50-150 ms
and a page that waits for its scripts one round trip at a time shows nothing
for seconds. On loopback (bench/video.py) that cost is invisible, so here the
family's Chromium sits behind a link that delays every packet 50 ms each way
(a 100 ms round trip) and carries 1,600 kbit/s each way, through the userspace
link emulator of the tests' shaped networks (telepractice/testing/shaped_link.py):
the server in one namespace, the worker's Chromium on a clear link in a second,
the family's in a third. Addresses are 10.99.0.0/24 inside those namespaces only.

Each round a different family member (consent on record) opens their link in
a fresh browser context, so nothing is cached, as when a family opens the
link for the first time. The moments are taken in the page itself (a
MutationObserver and a click listener added before the page loads), since
Playwright's own waiting sees a step up to half a second after it was drawn
on this link. The figures:

- link to first screen: from opening the link to the language buttons drawn;
- language to camera check: from the click on a language to the camera
  check drawn (consent on record skips the consent step);
- call page to video: from the call page's navigation start (after "Join")
  to the worker's video playing on the family's page, the worker's Admit
  click included (at machine speed, on the worker's clear link);
- join page KB: what the join page and every file it asked for took on the
  wire (headers included), from the browser's resource timing;
- join page again: from opening the join page a second time on the same
  device (its files in the browser's cache, as at a family's next session)
  to its first step drawn; a dead link, so the page and its check alone.

The same figures are taken a second time with certs/README.md's nginx site in
front of telepractice (telepractice/testing/reverse_proxy.py), as an
organisation would deploy it: nginx speaks HTTP/2, so the page's files share
one connection instead of opening up to six, each with its own TCP and TLS
round trips. Those figures are named "slow link behind nginx".
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from pathlib import Path

from video import PLAYING, WAIT_MS, summarize_rounds

DELAY_MS = 50.0  # each way: a 100 ms round trip, as on a phone's mobile data
RATE_KBIT = 1600  # each way, as on 3G or a weak 4G signal

# Bytes on the wire for the page and everything it fetched, headers included (0 for a file served from cache).
TRANSFERRED = """
() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((sum, entry) => sum + entry.transferSize, 0)
"""
# Notes, in the page's own clock, when the language buttons and the camera check are drawn and a language is chosen.
MOMENTS = """
window.benchMoments = {};
const steps = {language: 'main[data-step="language"] button[data-language]', preview: 'main[data-step="preview"]',
  'link-invalid': 'main[data-step="link-invalid"]'};
new MutationObserver(() => {
  for (const [name, selector] of Object.entries(steps)) {
    if (!(name in window.benchMoments) && document.querySelector(selector)) window.benchMoments[name] = performance.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
document.addEventListener('click', (event) => {
  if (event.target.closest('button[data-language]')) window.benchMoments.chosen ??= performance.now();
}, true);
"""


async def _measure(rounds: int, work: Path, behind_nginx: bool) -> list[dict[str, float]]:
    from playwright.async_api import async_playwright

    from telepractice.testing import reverse_proxy, shaped_link
    from telepractice.testing.server import prepare_family_session, server_environment, settings_for, start_server
    from telepractice.tls import ensure_dev_certificate
    from tests.network import shaped_browsers  # the tests' Chromium on a shaped link: its flags and its launch

    part = "slow-link-nginx" if behind_nginx else "slow-link"
    label = "slow link behind nginx" if behind_nginx else "slow link"
    if behind_nginx:  # as certs/README.md deploys it: plain HTTP on 127.0.0.1:8080, nginx in front on 443
        origin = f"https://{reverse_proxy.PUBLIC_NAME}"
        env = server_environment(work / f"{part}-data", port=reverse_proxy.UPSTREAM_PORT, behind_proxy="true",
                                 public_origin=origin)
        certificate = ensure_dev_certificate(work / f"{part}-tls")
        extra_args = [f"--host-resolver-rules=MAP {reverse_proxy.PUBLIC_NAME} {shaped_link.SERVER_ADDRESS}"]
    else:
        origin = f"https://{shaped_link.SERVER_ADDRESS}:8443"
        env = server_environment(work / f"{part}-data", port=8443, host="0.0.0.0", public_origin=origin)
        certificate = ensure_dev_certificate(settings_for(env).tls_directory)
        extra_args = []
    prepared = await prepare_family_session(settings_for(env), [f"Slow Link Family {i}" for i in range(rounds)])
    extra_args.append(_trusting(certificate[0]))
    figures: list[dict[str, float]] = []
    with shaped_link.shaped_network(2) as network:
        worker_link, family_link = network.clients
        network.shape(family_link, delay_ms=DELAY_MS, rate_kbit=RATE_KBIT)
        server = start_server(network.server, env, work / f"{part}-server.log")
        proxy = None
        try:
            if behind_nginx:
                proxy_dir = work / f"{part}-proxy"
                proxy_dir.mkdir(parents=True, exist_ok=True)
                readme = (Path(__file__).resolve().parents[1] / "certs" / "README.md").read_text()
                reverse_proxy.write_config(reverse_proxy.NGINX, proxy_dir, readme, *certificate)
                proxy = reverse_proxy.start_proxy(network.server, reverse_proxy.NGINX, proxy_dir)
            async with async_playwright() as playwright:
                browsers = []
                try:
                    for index, link in enumerate((worker_link, family_link)):
                        browsers.append(await shaped_browsers.launch(
                            playwright, link.ns, work / f"{part}-bin{index}", WAIT_MS, extra_args=extra_args))
                    worker_browser, family_browser = browsers
                    worker = await (await worker_browser.new_context(ignore_https_errors=True)).new_page()
                    worker.set_default_timeout(WAIT_MS)
                    await worker.goto(f"{origin}/call#staff={prepared.worker_token}&session={prepared.session_id}")
                    await worker.wait_for_function("() => window.telepractice && window.telepractice.call")
                    await asyncio.sleep(1.0)
                    for member in prepared.family:
                        figures.append(await _one_family_member(family_browser, worker, origin, prepared.worker_id,
                                                                member.participant_id, member.join_token, label))
                        await asyncio.sleep(1.0)
                finally:
                    for browser in browsers:
                        await browser.close()
        finally:
            if proxy is not None:
                proxy.stop()
            server.stop()
    return figures


async def _one_family_member(browser, worker, origin: str, worker_id: str, participant_id: str,
                             join_token: str, label: str) -> dict[str, float]:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        family, opened = await _open_join_page(context, origin, join_token)
        await family.locator('main[data-step="language"] button[data-language="en"]').click()
        await family.locator('main[data-step="preview"]').wait_for()
        moments = await _moments(family)
        transferred = await family.evaluate(TRANSFERRED)
        await family.locator("#join").click()
        await family.wait_for_url("**/call")
        admit = worker.locator(f'#waiting-list [data-participant="{participant_id}"] button.admit')
        await admit.click()
        playing = await family.evaluate(PLAYING, [worker_id, WAIT_MS])
        again = await _join_page_again(context, origin)
        return {
            f"{label}: link to first screen s": (moments["origin"] + moments["language"]) / 1000 - opened,
            f"{label}: language to camera check s": (moments["preview"] - moments["chosen"]) / 1000,
            f"{label}: call page to video s": playing["sinceNavigation"] / 1000,
            f"{label}: join page KB": transferred / 1000,
            f"{label}: join page again s": again,
        }
    finally:
        await context.close()


async def _join_page_again(context, origin: str) -> float:
    """From opening the join page a second time on this device to its first step drawn (a dead link's).

    What a family meets at their next session: the page's files are in the browser's cache from the first.
    A dead link keeps the measure to the page itself: the same files and the same check as a live one.
    """
    page, opened = await _open_join_page(context, origin, "not-a-link")
    await page.locator('main[data-step="link-invalid"]').wait_for()
    moments = await _moments(page)
    return (moments["origin"] + moments["link-invalid"]) / 1000 - opened


async def _open_join_page(context, origin: str, join_token: str):  # -> (Page, float)
    """A new page noting its moments, on the join link; with the wall-clock time it was opened."""
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.add_init_script(MOMENTS)
    opened = time.time()
    await page.goto(f"{origin}/join#invite={join_token}", wait_until="commit")
    return page, opened


async def _moments(page) -> dict[str, float]:
    """The moments the page noted, and its time origin (ms since the epoch) to put them on the wall clock."""
    return await page.evaluate("({...window.benchMoments, origin: performance.timeOrigin})")


def _trusting(certificate: Path) -> str:
    """The flag that makes Chromium accept the development certificate in the handshake, as it would a real one.

    Without it Chromium refuses the self-signed certificate, then (told by Playwright to ignore certificate
    errors) opens a second connection that accepts it: two more round trips for every connection, which no
    family meets on a server with a real certificate (certs/README.md).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public_key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"--ignore-certificate-errors-spki-list={base64.b64encode(hashlib.sha256(spki).digest()).decode()}"


def measure_slow_link(rounds: int, work: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Median and spread over ``rounds`` family members; empty with the reason where shaped links cannot be made."""
    from telepractice.testing import netns, shaped_link
    from telepractice.testing.reverse_proxy import NGINX

    reason = netns.unavailable_reason() or shaped_link.unavailable_reason()
    if reason is not None:
        print(f"skipping the slow link: {reason}")
        return {}
    figures = summarize_rounds(asyncio.run(_measure(rounds, work, behind_nginx=False)))
    if not os.access(NGINX.binary, os.X_OK):
        print(f"skipping the slow link behind nginx: {NGINX.binary} is missing (apt-get install nginx)")
        return figures
    return figures | summarize_rounds(asyncio.run(_measure(rounds, work, behind_nginx=True)))
