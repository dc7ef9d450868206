"""The web app without a browser (TestClient), on SQLite and PostgreSQL: login sessions, CSRF,
organisation scoping, the case form, patients and follow-ups, the interview page, reports.

The browser tests (Playwright + Chromium) are in tests/web/.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from rootcause import Engine
from rootcause.service.demo import seed_demo
from rootcause.storage import repository
from rootcause.storage.keys import DEMO_API_KEY
from rootcause.storage.models import StoredSession
from rootcause.web.auth import COOKIE

from .conftest import PATIENT, Org

CASE_FORM = {
    "procedure": "discectomy",
    "days_since_surgery": "75",
    "relief_after_surgery": "complete",
    "onset_days": "70",
    "onset_speed": "sudden",
    "f.event_before_onset": "yes",
    "f.pain_worse_with_cough_or_sneeze": "yes",
    "f.slr_positive": "yes",
    "f.bladder_dysfunction": "no",
}


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, key: str) -> str:
    """Log in with ``key``; return the CSRF token of the session."""
    client.cookies.clear()
    r = client.post("/login", data={"api_key": key, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    home = client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


def assert_unique_ids(page: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def create_patient(client: TestClient, org: Org) -> str:
    r = client.post("/v1/patients", json=PATIENT, headers=org.clinician)
    assert r.status_code == 201
    pid: str = r.json()["id"]
    return pid


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/", "/case", "/patients", "/interview", "/knowledge", "/knowledge/sources/E84"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/"), path
    r = client.get("/login?next=https://evil.example/")
    assert r.status_code == 200 and 'name="next" value="/"' in r.text


def test_login_sets_a_strict_httponly_cookie_and_stores_only_a_digest(
    client: TestClient, app: FastAPI, org_a: Org
) -> None:
    r = client.post("/login", data={"api_key": "rc_nope", "next": "/"}, follow_redirects=False)
    assert r.status_code == 401 and "not valid" in r.text and COOKIE not in r.headers.get("set-cookie", "")
    r = client.post(
        "/login", data={"api_key": org_a.clinician_key, "next": "/patients"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/patients"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    token = client.cookies[COOKIE]
    with app.state.rootcause.database.transaction() as session:
        rows = session.scalars(select(StoredSession).where(StoredSession.kind == "web-login")).all()
    assert len(rows) == 1
    stored = str(rows[0].payload) + rows[0].id
    assert token not in stored and org_a.clinician_key not in stored
    assert rows[0].organisation_id == org_a.id
    # logged in: the login page forwards
    assert client.get("/login", follow_redirects=False).status_code == 303
    # log out: the row is gone and the cookie no longer works
    csrf = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, token)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_the_browser_session(client: TestClient, app: FastAPI, org_a: Org) -> None:
    login(client, org_a.clinician_key)
    key_id = org_a.clinician_key.split("_")[1]
    with app.state.rootcause.database.transaction() as session:
        repository.revoke_api_key(session=session, actor=org_a.actor(), key_id=key_id)
    assert client.get("/case", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(client: TestClient, org_a: Org) -> None:
    login(client, org_a.clinician_key)
    r = client.post("/case", data=CASE_FORM)
    assert r.status_code == 403 and "expired" in r.text
    r = client.post("/case", data={**CASE_FORM, "csrf": "forged"})
    assert r.status_code == 403


def test_every_page_has_landmarks_the_disclaimer_and_security_headers(
    client: TestClient, org_a: Org, engine: Engine
) -> None:
    login(client, org_a.clinician_key)
    disclaimer = html.escape(engine.kb.manifest.disclaimer, quote=False)
    for path in (
        "/", "/case", "/patients", "/patients/new", "/interview", "/knowledge", "/knowledge/findings",
        "/knowledge/treatments", "/knowledge/sources", "/knowledge/sources/E84",
        "/knowledge/conditions/epidural_fibrosis",
    ):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 200, path
        page = r.text
        assert disclaimer in page, path
        assert "Supports clinical decisions; does not make them." in page
        for landmark in ('<main id="main"', "<header", '<nav aria-label="Main"', "<footer"):
            assert landmark in page, (path, landmark)
        assert 'lang="en"' in page and 'class="skip-link"' in page
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        assert "style=" not in page, path  # the CSP forbids inline styles
        assert_unique_ids(page)
    login_page = TestClient(client.app).get("/login").text
    assert disclaimer in login_page


def test_web_routes_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all(p.startswith(("/v1/", "/cds-services")) for p in paths)  # CDS Hooks fixes its paths
    assert "/v1/interviews/{interview_id}/answers" in paths


def test_case_form_assesses_and_explains(client: TestClient, org_a: Org) -> None:
    csrf = login(client, org_a.clinician_key)
    form = client.get("/case").text
    for group in ("History", "Examination", "Laboratory", "Imaging and procedures"):
        assert f"<legend>{group}</legend>" in form
    assert 'name="f.slr_positive" value="unknown" checked' in form
    r = client.post("/case", data={**CASE_FORM, "csrf": csrf, "ps_day": ["14", "70"], "ps_nrs": ["1", "7"]})
    assert r.status_code == 200
    page = r.text
    assert re.search(r'class="leading-cause">Recurrent disc herniation', page)
    assert "triage-soon" in page and "Treatment options" in page and "What to find out next" in page
    sources = set(re.findall(r'href="(/knowledge/sources/E\d+)"', page))
    assert sources
    for link in sorted(sources)[:5]:
        assert client.get(link).status_code == 200
    case_json = html.unescape(re.search(r'name="case" value="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert '"pain_scores":[{"day":14,"nrs":1},{"day":70,"nrs":7}]' in case_json
    pdf = client.post("/case/report.pdf", data={"csrf": csrf, "case": case_json})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 3000
    assert "attachment" in pdf.headers["content-disposition"]
    edit = client.post("/case/edit", data={"csrf": csrf, "case": case_json})
    assert 'name="f.event_before_onset" value="yes" checked' in edit.text
    assert 'value="70"' in edit.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"procedure": ""}, "surgery.procedure"),
        ({"age": "250"}, "age"),
        ({"onset_days": "90"}, "leg_pain.onset_days"),
        ({"ps_day": "14", "ps_nrs": ""}, "pain_scores[0]"),
        ({"ps_day": "14", "ps_nrs": "11"}, "pain_scores"),
    ],
)
def test_case_form_errors_name_the_field_and_keep_the_values(
    client: TestClient, org_a: Org, changes: dict[str, str], field: str
) -> None:
    csrf = login(client, org_a.clinician_key)
    r = client.post("/case", data={**CASE_FORM, **changes, "csrf": csrf})
    assert r.status_code == 422
    assert 'class="error-summary"' in r.text and field in r.text
    assert 'name="f.event_before_onset" value="yes" checked' in r.text


def test_patient_pages_follow_ups_and_assessments(client: TestClient, org_a: Org, org_b: Org) -> None:
    pid = create_patient(client, org_a)
    csrf = login(client, org_a.clinician_key)
    listing = client.get("/patients").text
    assert "MRN-0001" in listing and f"/patients/{pid}" in listing
    page = client.get(f"/patients/{pid}").text
    assert "No pain scores yet" in page
    for day, nrs in (("2026-06-15", "2"), ("2026-07-20", "6")):
        r = client.post(
            f"/patients/{pid}/pain-scores",
            data={"csrf": csrf, "recorded_on": day, "nrs": nrs},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == f"/patients/{pid}#trajectory"
    page = client.get(f"/patients/{pid}").text
    assert page.count("<circle") == 2 and "day 49: 6/10" in page
    bad = client.post(
        f"/patients/{pid}/pain-scores", data={"csrf": csrf, "recorded_on": "2026-07-21", "nrs": "11"}
    )
    assert bad.status_code == 422 and "less than or equal to 10" in bad.text
    # a stored assessment from the patient form, then its page and PDF
    form = client.get(f"/patients/{pid}/assess").text
    assert 'name="procedure"' not in form and "Patient <strong>MRN-0001</strong>" in form
    r = client.post(
        f"/patients/{pid}/assess",
        data={"csrf": csrf, "assessed_on": "2026-07-21", "relief_after_surgery": "complete", "f.fever": "no"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    stored = r.headers["location"]
    assert re.fullmatch(rf"/patients/{pid}/assessments/[0-9a-f-]{{36}}", stored)
    result = client.get(stored).text
    assert "leading-cause" in result and "Patient MRN-0001" in result
    pdf = client.get(stored + "/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page = client.get(f"/patients/{pid}").text
    assert "Stored assessments" in page and 'id="plot-differential-history"' in page and stored in page
    assert_unique_ids(page)
    assert_unique_ids(result)
    # another organisation sees none of it
    login(client, org_b.clinician_key)
    assert "MRN-0001" not in client.get("/patients").text
    for path in (
        f"/patients/{pid}",
        stored,
        stored + "/report.pdf",
        f"/patients/{pid}/assess",
        "/patients/nope",
    ):
        assert client.get(path).status_code == 404, path
    csrf_b = csrf_of(client.get("/").text)
    r = client.post(
        f"/patients/{pid}/pain-scores", data={"csrf": csrf_b, "recorded_on": "2026-07-22", "nrs": "3"}
    )
    assert r.status_code == 404


def test_register_a_patient(client: TestClient, org_a: Org) -> None:
    csrf = login(client, org_a.clinician_key)
    data = {"csrf": csrf, "external_id": "MRN-77", "procedure": "fusion", "surgery_date": "2026-01-05"}
    r = client.post("/patients/new", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert "MRN-77" in client.get(r.headers["location"]).text
    again = client.post("/patients/new", data=data)
    assert again.status_code == 409 and "already exists" in again.text
    missing = client.post("/patients/new", data={**data, "external_id": "MRN-78", "procedure": ""})
    assert missing.status_code == 422 and 'href="#procedure"' in missing.text


def interview_answer(client: TestClient, page: str, **fields: Any) -> str:
    action = re.search(r'action="(/interview/[^/"]+/answer)"', page)
    assert action, page
    question = re.search(r'name="question" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    data = {"csrf": csrf_of(page), "question": question, "version": version, "action": "answer", **fields}
    r = client.post(action.group(1), data=data)
    assert r.status_code in (200, 422), r.text
    return r.text


def current_question(page: str) -> str:
    match = re.search(r'data-question-id="([^"]+)"', page)
    return match.group(1) if match else ""


def test_interview_page_one_question_at_a_time(client: TestClient, org_a: Org, engine: Engine) -> None:
    csrf = login(client, org_a.clinician_key)
    page = client.post("/interview", data={"csrf": csrf, "mode": "patient"}).text
    assert 'aria-live="polite"' in page and "Question 1" in page
    assert current_question(page) == "surgery.procedure"
    nothing = interview_answer(client, page)
    assert "Choose an answer" in nothing and current_question(nothing) == "surgery.procedure"
    page = interview_answer(client, page, value="discectomy")
    assert current_question(page) == "days_since_surgery"
    page = interview_answer(client, page, amount="11", unit="weeks")  # 77 days
    page = interview_answer(client, page, value="complete")
    too_late = interview_answer(client, page, amount="12", unit="weeks")
    assert "does not fit" in too_late and current_question(too_late) == "leg_pain.onset_days"
    page = interview_answer(client, page, amount="10", unit="weeks")
    # back, then forward again
    back = client.post(
        re.search(r'action="(/interview/[^/"]+/undo)"', page).group(1),  # type: ignore[union-attr]
        data={"csrf": csrf, "version": re.search(r'name="version" value="(\d+)"', page).group(1)},  # type: ignore[union-attr]
    ).text
    assert current_question(back) == "leg_pain.onset_days"
    page = interview_answer(client, back, amount="70", unit="days")
    answers = {
        "leg_pain.onset_speed": {"value": "sudden"},
        "leg_pain.trend": {"value": "stable"},
        "red_flags": {},
        "leg_symptoms": {"item": ["pain_worse_with_cough_or_sneeze", "dermatomal_distribution"]},
        "event_before_onset": {"value": "yes"},
    }
    for _ in range(30):
        qid = current_question(page)
        if not qid:
            break
        page = interview_answer(client, page, **answers.get(qid, {"action": "dont_know"}))
    assert "What to do now" in page
    advice = engine.kb.triage.advice
    soon = next(a for a in advice if a.level == "soon")
    assert html.escape(soon.patient, quote=False) in page
    assert "This supports, does not replace, your clinician." in page
    assert "What may be going on" in page and "Recurrent disc herniation" in page
    description = engine.kb.condition("recurrent_disc_herniation").patient_description
    assert html.escape(description, quote=False) in page


def test_login_page_offers_the_demo_key_only_with_demo_data(
    client: TestClient, app: FastAPI, engine: Engine
) -> None:
    assert DEMO_API_KEY not in client.get("/login").text
    state = app.state.rootcause
    state.migrate()
    seed_demo(state.database, engine, "test")
    assert DEMO_API_KEY in client.get("/login").text
    login(client, DEMO_API_KEY)
    listing = client.get("/patients").text
    assert all(f"DEMO-00{i}" in listing for i in (1, 2, 3))
