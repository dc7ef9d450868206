"""End-to-end tests of the web app in real headless Chromium (Debian's /usr/bin/chromium),
driven by Playwright's sync API.

The app runs under uvicorn in a background thread on a loopback socket that is bound and
listening before the browser starts (connections wait in the backlog until the server
accepts, so nothing polls or sleeps), with a temporary SQLite database holding the demo data.
Screenshots of the main pages are written to ``screenshots/`` at the repository root.

Chromium missing is a failure, never a skip (.ci/run installs it).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rootcause import Engine
from rootcause.service.app import create_app
from rootcause.service.demo import seed_demo
from rootcause.service.settings import Settings
from rootcause.storage import Database
from rootcause.storage.keys import DEMO_API_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[str]:
    """The app with demo data under uvicorn in a thread; yields its base URL."""
    db_path = tmp_path_factory.mktemp("web-e2e") / "rootcause.sqlite3"
    settings = Settings(environment="test", database_path=db_path)
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    seed_demo(database, engine, "e2e")
    database.dispose()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, engine=engine),
        log_level="warning",
        access_log=False,
        http="h11",
        ws="none",
        loop="asyncio",
        lifespan="on",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is required: apt-get install -y chromium (.ci/run does this)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def new_page(browser: Browser, server: str, *, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(
        base_url=server, viewport={"width": width, "height": height}, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture()
def page(browser: Browser, server: str) -> Iterator[Page]:
    pg = new_page(browser, server)
    log_in(pg)
    yield pg
    pg.context.close()


def log_in(page: Page, key: str = DEMO_API_KEY) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="rootcause", exact=True)).to_be_visible()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def choose(page: Page, finding: str, state: str) -> None:
    page.locator(f"#f-{finding} label.tri-{state}").click()
    expect(page.locator(f"input[name='f.{finding}'][value='{state}']")).to_be_checked()


def fill_sudden_return_case(page: Page) -> None:
    page.goto("/case")
    page.get_by_label("Operation (required)").select_option("discectomy")
    page.get_by_label("Age (years)").fill("38")
    page.get_by_label("Days since surgery").fill("75")
    page.get_by_label("Relief of the leg pain after surgery").select_option("complete")
    page.get_by_label("Current pain began (days after surgery)").fill("70")
    page.get_by_label("Onset", exact=True).select_option("sudden")
    # pain scores: three blank rows, and one more added with the button
    page.get_by_role("button", name="Add a pain score row").click()
    days, scores = page.locator("input[name=ps_day]"), page.locator("input[name=ps_nrs]")
    expect(days).to_have_count(4)
    for i, (day, nrs) in enumerate([("-7", "8"), ("14", "1"), ("42", "1"), ("72", "7")]):
        days.nth(i).fill(day)
        scores.nth(i).fill(nrs)
    choose(page, "event_before_onset", "yes")
    choose(page, "pain_worse_with_cough_or_sneeze", "yes")
    choose(page, "slr_positive", "yes")
    choose(page, "bladder_dysfunction", "no")


def test_case_form_to_result_with_sources_and_pdf(page: Page, engine: Engine) -> None:
    fill_sudden_return_case(page)
    expect(page.locator("input[name='f.fever'][value='unknown']")).to_be_checked()
    shot(page, "case-form")
    page.get_by_role("button", name="Assess").click()

    expect(page.locator(".leading-cause")).to_have_text("Recurrent disc herniation (same level)")
    expect(page.locator(".triage")).to_have_class(re.compile("triage-soon"))
    expect(page.locator(".triage h2")).to_contain_text("Soon")
    first_bar = page.locator(".bars .bar-row").first
    expect(first_bar).to_have_attribute("data-condition", "recurrent_disc_herniation")
    expect(page.get_by_role("heading", name="What to find out next")).to_be_visible()
    expect(page.get_by_role("heading", name="Treatment options")).to_be_visible()
    expect(page.locator(".explanation[open] table.weights").first).to_be_visible()
    shot(page, "result")

    # download the PDF of the same report
    with page.expect_download() as info:
        page.get_by_role("button", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"%PDF") and b"%%EOF" in body[-64:]
    assert len(body) > 4000 and body.count(b"/Type /Page") >= 2

    # open a source the "why" section cites, and see its full citation
    link = page.locator(".explanation[open] a.source").first
    source_id = link.inner_text().strip()
    link.click()
    expect(page).to_have_url(re.compile(rf"/knowledge/sources/{source_id}$"))
    expect(page.locator("blockquote.citation")).to_have_text(engine.kb.references[source_id].citation)
    expect(page.get_by_role("heading", name=re.compile("Numbers that cite it"))).to_be_visible()


def test_case_form_errors_point_at_the_field(page: Page) -> None:
    page.goto("/case")
    page.get_by_label("Days since surgery").fill("20")
    page.get_by_label("Current pain began (days after surgery)").fill("30")
    page.get_by_role("button", name="Assess").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("surgery.procedure")
    summary.get_by_role("link", name=re.compile("surgery.procedure")).click()
    expect(page).to_have_url(re.compile("#procedure$"))
    expect(page.get_by_label("Days since surgery")).to_have_value("20")


def answer_interview(page: Page, answers: dict[str, tuple[str, object]]) -> list[str]:
    """Answer questions until the end; returns the question ids asked."""
    asked: list[str] = []
    for _ in range(40):
        form = page.locator("#question-form")
        if form.count() == 0:
            break
        qid = form.get_attribute("data-question-id") or ""
        asked.append(qid)
        kind, value = answers.get(qid, ("dont_know", None))
        region = page.locator("#question-region")
        expect(region).to_have_attribute("aria-live", "polite")
        if kind == "choice":
            page.locator(f"#question-form input[name=value][value='{value}']").check()
        elif kind == "days":
            page.get_by_label("Number").fill(str(value))
            page.get_by_label("Unit").select_option("days")
        elif kind == "items":
            for item in value:  # type: ignore[attr-defined]
                page.locator(f"#question-form input[name=item][value='{item}']").check()
        if kind == "dont_know":
            page.get_by_role("button", name="Don't know").click()
        else:
            page.locator("#question-form button[value=answer]").click()
        page.wait_for_function(
            "qid => { const f = document.querySelector('#question-form');"
            " return !f || f.dataset.questionId !== qid; }",
            arg=qid,
        )
        if page.locator("#question-form").count():
            # the new question was swapped in place; keyboard focus follows it
            active = page.evaluate("document.activeElement && document.activeElement.id")
            assert active == "question-text", (qid, active, page.url)
    return asked


def test_patient_interview_to_triage_advice(browser: Browser, server: str, engine: Engine) -> None:
    page = new_page(browser, server, width=820, height=1180)  # a tablet in portrait
    log_in(page)
    page.get_by_role("link", name="Patient interview").first.click()
    expect(page.get_by_text("This supports, does not replace, your clinician.")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#question-text")).to_have_text("Which operation did you have on your lower back?")
    expect(page.get_by_text("Question 1", exact=True)).to_be_visible()
    page.locator("#question-form input[value=discectomy]").check()
    page.locator("#question-form button[value=answer]").click()
    expect(page.locator("#question-form")).to_have_attribute("data-question-id", "days_since_surgery")
    shot(page, "interview-question", full_page=False)
    # back goes to the previous question
    page.get_by_role("button", name=re.compile("Back to the previous question")).click()
    expect(page.locator("#question-form")).to_have_attribute("data-question-id", "surgery.procedure")
    asked = answer_interview(
        page,
        {
            "surgery.procedure": ("choice", "discectomy"),
            "days_since_surgery": ("days", 75),
            "leg_pain.relief_after_surgery": ("choice", "complete"),
            "leg_pain.onset_days": ("days", 70),
            "leg_pain.onset_speed": ("choice", "sudden"),
            "leg_pain.trend": ("choice", "stable"),
            "red_flags": ("items", []),
            "leg_symptoms": ("items", ["pain_worse_with_cough_or_sneeze", "dermatomal_distribution"]),
            "event_before_onset": ("choice", "yes"),
            "slr_positive": ("choice", "yes"),
        },
    )
    assert asked[:3] == ["surgery.procedure", "days_since_surgery", "leg_pain.relief_after_surgery"]
    assert "red_flags" in asked
    expect(page.get_by_role("heading", name="What to do now")).to_be_visible()
    soon = next(a for a in engine.kb.triage.advice if a.level == "soon")
    expect(page.locator(".patient-advice")).to_have_text(soon.patient)
    expect(page.get_by_text("This supports, does not replace, your clinician.").first).to_be_visible()
    expect(page.get_by_role("heading", name="What may be going on")).to_be_visible()
    expect(page.locator(".causes li").first).to_contain_text("Recurrent disc herniation")
    # usable on a tablet: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "interview-advice")
    page.context.close()


def test_follow_up_pain_score_updates_the_trajectory(page: Page) -> None:
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.get_by_role("link", name="DEMO-002")).to_be_visible()
    shot(page, "patient-list")
    page.get_by_role("link", name="DEMO-002").click()
    expect(page.get_by_role("heading", name="Patient DEMO-002")).to_be_visible()
    patient_url = page.url
    points = page.locator("#trajectory svg.plot circle")
    expect(points).to_have_count(3)
    expect(page.locator("#plot-differential-history")).to_be_visible()
    page.get_by_label("Date").fill("2026-06-01")
    page.get_by_label("Leg pain (0-10)").fill("8")
    page.get_by_role("button", name="Add score").click()
    expect(points).to_have_count(4)
    expect(page.locator("#trajectory svg.plot circle title").last).to_have_text("day 91: 8/10")
    expect(page.locator(".scores-table tbody tr")).to_have_count(4)
    # a new stored assessment joins the differential over time
    page.get_by_role("link", name="New assessment").click()
    page.get_by_label("Date of assessment").fill("2026-06-01")
    page.get_by_role("button", name="Assess and save").click()
    expect(page.locator(".leading-cause")).to_be_visible()
    page.goto(patient_url)
    expect(page.locator("table.list caption", has_text="Stored assessments")).to_be_visible()
    rows = page.locator("section[aria-labelledby=history-title] tbody tr")
    expect(rows).to_have_count(2)
    page.locator("#trajectory").scroll_into_view_if_needed()
    shot(page, "patient-trajectory")


def test_knowledge_browser(page: Page, engine: Engine) -> None:
    page.get_by_role("link", name="Knowledge base").first.click()
    expect(page.get_by_role("heading", name="Causes", exact=True)).to_be_visible()
    shot(page, "knowledge-index", full_page=False)
    page.get_by_role("link", name="Epidural fibrosis (scar tissue)").click()
    expect(page.get_by_role("heading", name="P(finding | this cause)")).to_be_visible()
    shot(page, "knowledge-condition", full_page=False)
    page.goto("/knowledge/sources")
    refs = page.locator("ol.sources-list > li")
    expect(refs).to_have_count(len(engine.kb.references))


def test_keyboard_skip_link_and_visible_focus(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).top") != "-48px"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/case")
    page.get_by_label("Operation (required)").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    # every visible form control has an accessible name
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !(el.textContent || '').trim())
            .map(el => el.name || el.id)"""
    )
    assert unnamed == []
