"""End-to-end: paste a note on the case form, see the form filled and the note highlighted, assess.

Real headless Chromium (Debian's /usr/bin/chromium) through Playwright, with the server and browser
fixtures of test_web_e2e.py. Writes screenshots/case-form-from-note.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from .test_web_e2e import browser, log_in, new_page, server, shot

__all__ = ["browser", "server"]  # fixtures used below

NOTE = (
    "Spinal clinic 14/05/2026\n"
    "Re: Mr Daniel Reyes, 41\n"
    "Operation: left L5/S1 microdiscectomy 10/02/2026.\n"
    "His left leg pain resolved completely after surgery. Ten days ago he sneezed and felt a pop, and since "
    "then the same left leg pain has come back, worse when he coughs. No saddle numbness, no bladder or "
    "bowel problems. Afebrile.\n"
    "O/E: SLR left 35 degrees +ve. Left ankle jerk reduced."
)


@pytest.fixture()
def tall_page(browser: Browser, server: str) -> Iterator[Page]:
    pg = new_page(browser, server, height=1500)
    log_in(pg)
    yield pg
    pg.context.close()


def test_paste_a_note_fills_the_case_form(tall_page: Page) -> None:
    page = tall_page
    page.goto("/case")
    page.get_by_text("Start from a note").click()
    page.get_by_label("Clinical note", exact=True).fill(NOTE)
    page.get_by_role("button", name="Read the note").click()

    # the form is filled with what the note states, each such field marked "from the note"
    expect(page.get_by_label("Operation (required)", exact=True)).to_have_value("discectomy")
    expect(page.get_by_label("Age (years)", exact=True)).to_have_value("41")
    expect(page.get_by_label("Days since surgery", exact=True)).to_have_value("93")
    expect(page.get_by_label("Relief of the leg pain after surgery", exact=True)).to_have_value("complete")
    expect(page.get_by_label("Current pain began (days after surgery)", exact=True)).to_have_value("83")
    expect(page.locator("input[name=levels][value='L5-S1']")).to_be_checked()
    expect(page.locator("input[name='f.slr_positive'][value='yes']")).to_be_checked()
    expect(page.locator("input[name='f.saddle_anaesthesia'][value='no']")).to_be_checked()
    expect(page.locator("input[name='f.fever'][value='no']")).to_be_checked()
    expect(page.locator("input[name='f.numbness'][value='unknown']")).to_be_checked()
    procedure_field = page.locator(".field.from-note", has=page.locator("#procedure"))
    expect(procedure_field.locator(".from-note-tag")).to_contain_text("microdiscectomy")
    expect(page.locator("#procedure")).to_have_attribute("aria-describedby", "procedure-note")
    expect(page.locator("#f-slr_positive.from-note")).to_be_visible()
    expect(page.locator("#age.from-note, .field.from-note #age")).to_have_count(1)

    # the note, with the passage behind each value highlighted and labelled with field and value
    marks = page.locator(".note-text mark.note-mark")
    expect(marks.first).to_be_visible()
    assert marks.count() >= 10
    operation = marks.filter(has_text="microdiscectomy")
    expect(operation).to_have_attribute("title", re.compile("Operation: discectomy"))
    expect(operation).to_have_attribute("aria-label", re.compile("microdiscectomy — .*Operation: discectomy"))
    expect(marks.filter(has_text="Afebrile")).to_have_attribute("title", re.compile(r"\(fever\): no"))
    expect(page.get_by_label("Clinical note", exact=True)).to_have_value(NOTE)
    page.locator(".note-reader").scroll_into_view_if_needed()
    shot(page, "case-form-from-note", full_page=False)

    # the clinician confirms (or changes) and assesses
    page.get_by_role("button", name="Assess").click()
    expect(page.locator(".leading-cause")).to_have_text("Recurrent disc herniation (same level)")
    expect(page.locator(".triage")).to_have_class(re.compile("triage-soon"))


def test_a_bad_note_date_is_pointed_at(tall_page: Page) -> None:
    page = tall_page
    page.goto("/case")
    page.get_by_text("Start from a note").click()
    page.get_by_role("button", name="Read the note").click()
    expect(page.locator("#note-error")).to_contain_text("Paste the text of a note first")
    expect(page.get_by_label("Clinical note", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Operation (required)", exact=True)).to_have_value("")
