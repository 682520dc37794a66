"""The staff console in real Chromium against the real server: a worker's day, a supervisor's view, logins."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import update

from telepractice.audit import AuditLog
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.config import Settings
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import record
from telepractice.sessions.connection_tests import Measured, Verdict, store_connection_test
from telepractice.sessions.records import finish_session, refresh_record_parts
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import Case, SafetyAlert, SessionKind, StaffRole, new_id, utcnow
from telepractice.testing.server import RunningServer, server_environment, settings_for
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import no_page_errors, screenshot

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CASE = "BROWSER-0001"
OTHER_CASE = "BROWSER-0002"


@dataclasses.dataclass(frozen=True)
class ConsoleData:
    """Two staff with their passwords, a high-risk case behind on contacts with an ended session, a low-risk one."""

    worker_password: str = dataclasses.field(repr=False)
    supervisor_password: str = dataclasses.field(repr=False)
    ended_session_id: str
    family: dict[str, str]  # name -> participant id
    alert_id: str
    admin_password: str = dataclasses.field(default="", repr=False)


async def prepare_console(settings: Settings) -> ConsoleData:
    """Migrate the server's database and write the data through the same services the API uses."""
    from telepractice.server import migrate

    await migrate(settings)
    engine = make_engine(settings.database_url)
    try:
        db, audit, keyring = make_session_factory(engine), AuditLog(), Keyring(settings.key_directory)
        worker_password, supervisor_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        worker = await add_staff(db, audit, username="test.worker", display_name="Marta Worker",
                                 role=StaffRole.WORKER, password=worker_password, actor="test")
        supervisor = await add_staff(db, audit, username="test.supervisor", display_name="Sofia Supervisor",
                                     role=StaffRole.SUPERVISOR, password=supervisor_password, actor="test")
        admin_password = secrets.token_urlsafe(12)
        await add_staff(db, audit, username="test.admin", display_name="Alex Admin", role=StaffRole.ADMIN,
                        password=admin_password, actor="test")
        yesterday = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
        async with audit.recording(db) as session:
            case, cipher = await create_case(session, keyring, reference=CASE, risk_level="high",
                                             supervisor_id=supervisor.id, worker_ids=[worker.id])
            await create_case(session, keyring, reference=OTHER_CASE, risk_level="low",
                              supervisor_id=supervisor.id, worker_ids=[worker.id])
            ana = await add_participant(session, cipher, NewParticipant(display_name="Ana Test", role="guardian"))
            rui = await add_participant(session, cipher, NewParticipant(
                display_name="Rui Test", role="child", is_minor=True, guardian_id=ana.id))
            ended = await schedule_session(session, case, kind=SessionKind.FAMILY, planned_start=yesterday,
                                           host_id=worker.id)
            # Opened weeks ago, so last week counts: one contact held where five are needed.
            await session.execute(update(Case).where(Case.id == case.id).values(created_at=utcnow() - dt.timedelta(days=40)))
        await record(db, ended.id, [
            AttendanceEvent(AttendanceKind.ADMITTED, yesterday, worker.id, WhoKind.STAFF),
            AttendanceEvent(AttendanceKind.ADMITTED, yesterday + dt.timedelta(minutes=2), ana.id, WhoKind.FAMILY),
            AttendanceEvent(AttendanceKind.LEFT, yesterday + dt.timedelta(minutes=42), ana.id, WhoKind.FAMILY),
        ])
        await store_connection_test(db, ended.id, ana.id, WhoKind.FAMILY,
                                    Measured(Verdict.AUDIO_ONLY, rtt_ms=420, loss_permille=80, jitter_ms=35, kbps=96),
                                    at=yesterday + dt.timedelta(minutes=1))
        await finish_session(db, keyring, audit, ended.id, yesterday + dt.timedelta(minutes=50))
        alert_id = new_id()
        async with db() as session, session.begin():
            session.add(SafetyAlert(id=alert_id, session_id=ended.id, case_id=case.id, participant_id=rui.id,
                                    at=yesterday + dt.timedelta(minutes=20)))
            await session.flush()
            await refresh_record_parts(session, keyring, ended.id)  # as the room's safety hook does
        return ConsoleData(worker_password, supervisor_password, ended.id, {"Ana Test": ana.id, "Rui Test": rui.id},
                           alert_id, admin_password)
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Assertions wait as long as every other wait of the browser tests (a loaded CI machine is slow)."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's own default, for the tests that run after these


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    # One wrong password slows an account down (2 s, then 4 s, ...), so a throttled login is quick to reach.
    return server_environment(tmp_path / "data", login_max_failures="1")


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> ConsoleData:
    """Overrides conftest's family session: the console needs staff passwords, an ended session and an alert."""
    return await prepare_console(settings_for(server_env))


class Console:
    """One console page: its own browser context, every request it makes recorded."""

    def __init__(self, page: Page, server: RunningServer) -> None:
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        self.origin = server.origin

    @classmethod
    async def open(cls, pages: Pages, label: str, server: RunningServer, fragment: str = "") -> Console:
        page = await pages.open(label, "/console" + fragment)
        console = cls(page, server)
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.origin)
        return console

    async def log_in(self, username: str, password: str) -> None:
        await self.page.get_by_label("User name").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Log in").click()

    async def heading(self, text: str | re.Pattern[str]) -> None:
        heading = self.page.locator("h1#view-title")
        await expect(heading).to_have_text(text, timeout=WAIT_MS)
        await expect(heading).to_be_focused(timeout=WAIT_MS)

    async def shots(self, output_dir: Path, name: str) -> None:
        """The view at phone size and at desktop size, under test-output/screenshots/."""
        folder = output_dir / "screenshots"
        folder.mkdir(exist_ok=True)
        for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
            await self.page.set_viewport_size(size)
            await screenshot(self.page, folder, f"console-{name}-{size_name}")
        await self.page.set_viewport_size({"width": 960, "height": 720})

    def other_origins(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.origin + "/") and not url.startswith("data:")]


async def english(console: Console) -> None:
    """The tests read the English words; the switch is the one a person would use."""
    await console.page.get_by_role("button", name="English").click()
    await expect(console.page.locator("html")).to_have_attribute("lang", "en")


async def test_a_worker_sees_the_flags_schedules_a_session_copies_links_and_opens_the_call(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    worker = await Console.open(pages, "worker", server)
    page = worker.page
    await english(worker)
    await worker.shots(output_dir, "login")
    await worker.log_in("test.worker", prepared.worker_password)
    await worker.heading("My cases")
    behind = page.locator(f'tr:has(a[data-case="{CASE}"]) [data-flag]')
    await expect(behind).to_have_attribute("data-flag", "behind")
    await expect(behind).to_have_text("Contacts behind")
    await expect(page.locator(f'tr:has(a[data-case="{CASE}"])')).to_contain_text("High risk")
    await expect(page.locator(f'tr:has(a[data-case="{OTHER_CASE}"]) [data-flag]')).to_have_attribute(
        "data-flag", "behind-so-far")
    await worker.shots(output_dir, "worker-cases")

    await page.locator(f'a[data-case="{CASE}"]').click()
    await worker.heading(f"Case {CASE}")
    await expect(page.get_by_role("cell", name="Ana Test")).to_be_visible()
    form = page.locator("form.schedule-form")
    await form.get_by_label("Kind of session").select_option("family")
    tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).replace(hour=10, minute=0)
    await form.get_by_label("Day and time").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    await expect(form.get_by_label("Length in minutes")).to_have_value("60")
    await form.get_by_role("button", name="Schedule").click()
    card = page.locator("article.session-card").first
    await expect(card).to_contain_text("Family session")
    await expect(card).to_contain_text("60 min")
    session_id = await card.get_attribute("data-session")
    assert session_id

    await card.locator('[data-action="links"]').click()
    await card.get_by_label("Also ask for a join code (given by phone)").check()
    await card.get_by_role("button", name="Make the links").click()
    ana = card.locator(f'.made-link[data-participant="{prepared.family["Ana Test"]}"]')
    await expect(ana).to_contain_text("This link is personal, for Ana Test only")
    link = await ana.get_by_label("Link for Ana Test").input_value()
    assert re.fullmatch(re.escape(server.origin) + r"/join#invite=[\w.-]+", link), link
    code = (await ana.locator(".join-code").text_content() or "").strip()
    assert re.fullmatch(r"\d{6}", code), code
    await ana.get_by_role("button", name="Copy the link").click()
    await expect(ana.locator(".copied")).to_have_text("Copied.")
    assert await page.evaluate("() => navigator.clipboard.readText()") == link
    await ana.get_by_role("button", name="Copy the code").click()
    assert await page.evaluate("() => navigator.clipboard.readText()") == code
    await worker.shots(output_dir, "worker-case-links")
    made = card.locator(".invites tbody tr").filter(has_text="Ana Test")
    await expect(made).to_contain_text("Active")
    await made.get_by_role("button", name="Revoke the link").click()
    card = page.locator(f'article.session-card[data-session="{session_id}"]')
    await expect(card.locator(".invites tbody tr").filter(has_text="Ana Test")).to_contain_text("Revoked")
    await expect(card.locator(".invites tbody tr").filter(has_text="Rui Test")).to_contain_text("Active")

    async with page.context.expect_page() as opened:
        await card.locator('[data-action="call"]').click()
    call = await opened.value
    await call.wait_for_load_state()
    assert call.url.startswith(server.origin + "/call")
    assert await call.evaluate("() => window.opener") is None, "the call tab must be opened with noopener"
    await call.close()

    await page.reload()  # the refresh token in this tab's sessionStorage resumes the login on the same view
    await worker.heading(f"Case {CASE}")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator(".notice")).to_have_text("You have logged out. See you soon.")
    assert await page.evaluate("() => sessionStorage.length") == 0
    assert worker.other_origins() == []
    no_page_errors(pages)


async def test_a_worker_opens_the_session_record_sees_each_persons_minutes_and_adds_notes(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    worker = await Console.open(pages, "worker", server, f"#/case/{CASE}")
    page = worker.page
    await english(worker)
    await worker.log_in("test.worker", prepared.worker_password)
    await worker.heading(f"Case {CASE}")
    await page.locator(f'a[data-record="{prepared.ended_session_id}"]').click()
    await worker.heading(re.compile(rf"Record of the session of .* \({CASE}\)"))
    assert page.url.endswith(f"#/record/{prepared.ended_session_id}")
    await expect(page.locator(f'[data-minutes="{prepared.family["Ana Test"]}"]')).to_have_text("40")
    await expect(page.locator(f'[data-minutes="{prepared.family["Rui Test"]}"]')).to_have_text("0")
    await expect(page.locator(f'tr:has([data-minutes="{prepared.family["Rui Test"]}"])')).to_contain_text(
        "Did not attend")
    await expect(page.locator("section[aria-labelledby=record-alerts-title]")).to_contain_text("Not yet seen")
    tested = page.locator("section[aria-labelledby=record-connection-title] tbody tr")
    await expect(tested).to_have_count(1)
    for shown in ("Ana Test", "Video may freeze: started with audio only", "420 ms", "8 %", "96 kbit/s"):
        await expect(tested).to_contain_text(shown)

    notes = page.get_by_label("Your notes")
    await notes.fill("Ana engaged well; follow up with Rui's school.")
    await page.get_by_role("button", name="Save the notes").click()
    await expect(page.locator(".record-notes .saved")).to_have_text("The notes were saved.")
    await page.reload()
    await expect(page.get_by_label("Your notes")).to_have_value("Ana engaged well; follow up with Rui's school.")
    await worker.shots(output_dir, "worker-record")

    await page.get_by_role("link", name="Absences to follow up").click()
    await worker.heading("Absences to follow up")
    await expect(page.get_by_role("cell", name="Rui Test")).to_be_visible()

    await page.goto(f"{server.origin}/console#/case/{CASE}")
    await worker.heading(f"Case {CASE}")
    await page.get_by_label("New note").fill("Phoned Ana to plan the next session.")
    await page.get_by_role("button", name="Add the note").click()
    await expect(page.locator("ol.notes")).to_contain_text("Phoned Ana to plan the next session.")
    await expect(page.get_by_label("New note")).to_have_value("")
    assert worker.other_origins() == []
    no_page_errors(pages)


async def test_a_supervisor_sees_the_team_acknowledges_an_alert_schedules_a_discussion_and_reads_the_audit_trail(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    worker = await Console.open(pages, "worker", server, f"#/case/{CASE}")
    await english(worker)
    await worker.log_in("test.worker", prepared.worker_password)
    await worker.heading(f"Case {CASE}")  # the worker has read the case record: the audit trail must show it

    supervisor = await Console.open(pages, "supervisor", server)
    page = supervisor.page
    await english(supervisor)
    await supervisor.log_in("test.supervisor", prepared.supervisor_password)
    await supervisor.heading("Team's cases")
    await expect(page.locator(f'a[data-case="{CASE}"]')).to_be_visible()
    await expect(page.locator(f'[data-behind="{CASE}"].flag-behind').first).to_have_text("Contacts behind")
    await expect(page.locator(f'[data-behind="{CASE}"].flag-behind-so-far')).to_have_text("This week, so far")
    await supervisor.shots(output_dir, "supervisor-team")

    await page.get_by_role("link", name=re.compile("Safety alerts")).click()
    await supervisor.heading("Safety alerts")
    alert = page.locator(f'li[data-alert="{prepared.alert_id}"]')
    await expect(alert).to_have_class(re.compile(r"\bopen\b"))
    await expect(alert).to_contain_text("Rui Test asked for help")
    await supervisor.shots(output_dir, "supervisor-alerts")
    await alert.get_by_role("button", name="Mark as seen").click()
    await expect(alert).not_to_have_class(re.compile(r"\bopen\b"))
    await expect(alert).to_contain_text("Seen")

    await page.get_by_role("link", name="Team's cases").click()
    await supervisor.heading("Team's cases")
    form = page.locator("form.schedule-form")
    await form.get_by_label("Main case").select_option(CASE)
    await form.get_by_label(OTHER_CASE).check()
    later = dt.datetime.now() + dt.timedelta(hours=3)
    await form.get_by_label("Day and time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_label("Length in minutes").fill("30")
    await form.get_by_role("button", name="Schedule").click()
    made = page.locator(".discussion-made")
    await expect(made).to_contain_text(f"({CASE}, {OTHER_CASE})")
    await expect(made.locator('[data-action="call"]')).to_be_visible()

    await page.get_by_role("link", name="Who read records").click()
    await supervisor.heading("Who read records")
    row = page.locator(".audit-results tbody tr").filter(has_text="Marta Worker")
    await expect(row.first).to_contain_text("Case record")
    await expect(row.first).to_contain_text(CASE)
    # Only the table (and a note when the list was cut short): no stray word beside it ("null" was, once).
    assert await page.locator(".audit-results").evaluate(
        "(results) => [...results.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE).length") == 0
    await supervisor.shots(output_dir, "supervisor-audit")
    assert supervisor.other_origins() == [] and worker.other_origins() == []
    no_page_errors(pages)


async def test_a_wrong_password_and_a_throttled_login_are_told_in_words(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    console = await Console.open(pages, "login", server)
    page = console.page
    await english(console)
    error = page.locator("form.login .error")
    await console.log_in("test.supervisor", "not the password")
    await expect(error).to_have_text(re.compile("The user name or password is not right"))
    assert await page.get_by_label("User name").input_value() == "test.supervisor", "what was typed stays"
    await page.wait_for_timeout(2500)  # past the 2 s the first failure asks for: this one counts again
    await console.log_in("test.supervisor", "still not it")
    await expect(error).to_have_text(re.compile("The user name or password is not right"))
    await page.wait_for_timeout(4500)  # and past the 4 s the second asks for: the next wait is 8 s
    await console.log_in("test.supervisor", "nor this")
    await expect(error).to_have_text(re.compile("The user name or password is not right"))
    await console.log_in("test.supervisor", prepared.supervisor_password)  # within the 8 s wait now due
    await expect(error).to_have_text(re.compile(r"Too many attempts\. Wait [1-8] seconds and try again\."))
    await console.shots(output_dir, "login-throttled")
    await page.get_by_role("button", name="Português").click()
    await page.get_by_label("Nome de utilizador").fill("test.supervisor")
    await page.get_by_label("Palavra-passe").fill(prepared.supervisor_password)
    await page.get_by_role("button", name="Entrar", exact=True).click()
    await expect(error).to_have_text(re.compile(r"Demasiadas tentativas\. Espere [1-8] segundos e tente outra vez\."))
    assert console.other_origins() == []


async def test_the_waiting_room_count_follows_the_call_page_in_another_tab(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    worker = await Console.open(pages, "worker", server)
    page = worker.page
    await english(worker)
    await worker.log_in("test.worker", prepared.worker_password)
    await worker.heading("My cases")
    await page.locator(f'a[data-case="{CASE}"]').click()
    await worker.heading(f"Case {CASE}")
    form = page.locator("form.schedule-form")
    await form.get_by_label("Day and time").fill((dt.datetime.now() + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name="Schedule").click()
    card = page.locator("article.session-card").first
    session_id = await card.get_attribute("data-session")
    badge = card.locator(f'[data-waiting-session="{session_id}"]')
    await expect(badge).to_be_hidden()

    other_tab = await page.context.new_page()  # same browser context: the call page's tab would be here
    await other_tab.goto(server.origin + "/")
    post = "(message) => new BroadcastChannel('telepractice.waiting').postMessage(message)"
    await other_tab.evaluate(post, {"session": session_id, "waiting": 2, "names": ["Ana Test", "Rui Test"]})
    await expect(badge).to_have_text("2 waiting")
    await expect(page).to_have_title(re.compile(r"^\(2\) Case BROWSER-0001"))
    await expect(page.locator("#waiting-total")).to_have_text("2 in the waiting room")
    chimes = await page.evaluate("() => window.telepracticeConsole.waiting.chimes ?? 0")
    assert chimes == 1
    await worker.shots(output_dir, "worker-waiting")

    await other_tab.evaluate(post, {"session": session_id, "waiting": 1, "names": ["Ana Test"]})
    await expect(badge).to_have_text("1 waiting")
    assert await page.evaluate("() => window.telepracticeConsole.waiting.chimes ?? 0") == 1, "no chime as it falls"
    await other_tab.evaluate(post, {"session": session_id, "waiting": 0, "names": []})
    await expect(badge).to_be_hidden()
    await expect(page).to_have_title(re.compile(r"^Case BROWSER-0001"))

    await card.locator('[data-action="reschedule"]').click()
    moved = card.locator("form.reschedule-form")
    await moved.get_by_label("Day and time").fill((dt.datetime.now() + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    await moved.get_by_label("Length in minutes").fill("45")
    await moved.get_by_role("button", name="Save the new time").click()
    card = page.locator(f'article.session-card[data-session="{session_id}"]')
    await expect(card).to_contain_text("45 min")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await card.locator('[data-action="cancel"]').click()
    await expect(card).to_have_count(0)
    await expect(page.locator("tr", has_text="Cancelled")).to_have_count(1)
    no_page_errors(pages)


async def test_an_administrator_is_told_plainly_what_the_console_offers_them(
    pages: Pages, server: RunningServer, prepared: ConsoleData, output_dir: Path
) -> None:
    admin = await Console.open(pages, "admin", server)
    await english(admin)
    await admin.log_in("test.admin", prepared.admin_password)
    await admin.heading("Staff accounts")
    page = admin.page
    await expect(page.get_by_text("The console is for workers and supervisors")).to_be_visible()
    await expect(page.locator("tbody tr").filter(has_text="Marta Worker")).to_contain_text("worker")
    await expect(page.get_by_role("link", name="My cases")).to_have_count(0)
    await admin.shots(output_dir, "admin-staff")
    assert admin.other_origins() == []
    no_page_errors(pages)
