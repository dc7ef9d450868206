"""The adaptive interview: order, choice of question, undo, don't know, stop rule, red flags."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rootcause import CaseError, Engine, load_engine
from rootcause.cli.main import app
from rootcause.engine.interview import Interviewer, Session, simulate
from rootcause.evaluation import evaluate_interview, interview_summary, load_vignettes
from rootcause.knowledge.loader import default_data_dir

VIGNETTES = Path(__file__).parent / "data" / "vignettes"
TIMELINE = [
    "surgery.procedure",
    "days_since_surgery",
    "leg_pain.relief_after_surgery",
    "leg_pain.onset_days",
    "leg_pain.onset_speed",
    "leg_pain.trend",
]


@pytest.fixture(scope="module")
def interviewer(engine: Engine) -> Interviewer:
    return Interviewer(engine)


def answer_all(iv: Interviewer, session: Session, answers: dict) -> Session:
    """Answer questions in the order asked from a dict (missing → don't know) until a finding question."""
    while True:
        status = iv.status(session)
        if status.done or status.question is None or status.reason == "information gain":
            return session
        session = iv.answer(session, status.question.id, answers.get(status.question.id))


def test_timeline_is_asked_first_in_order(interviewer: Interviewer) -> None:
    session = Session("patient")
    asked = []
    values = {
        "surgery.procedure": "discectomy",
        "days_since_surgery": 40,
        "leg_pain.relief_after_surgery": "complete",
        "leg_pain.onset_days": 30,
        "leg_pain.onset_speed": "gradual",
        "leg_pain.trend": "stable",
    }
    for _ in range(6):
        q = interviewer.status(session).question
        assert q is not None
        asked.append(q.id)
        session = interviewer.answer(session, q.id, values[q.id])
    assert asked == TIMELINE
    assert interviewer.status(session).question.id == "red_flags"  # type: ignore[union-attr]


def test_route_is_asked_only_where_it_can_differ(interviewer: Interviewer) -> None:
    fusion = interviewer.answer(Session("patient"), "surgery.procedure", "fusion")
    disc = interviewer.answer(Session("patient"), "surgery.procedure", "discectomy")
    fusion = interviewer.answer(fusion, "days_since_surgery", 5)
    disc = interviewer.answer(disc, "days_since_surgery", 5)
    assert interviewer.status(fusion).question.id == "surgery.route"  # type: ignore[union-attr]
    assert interviewer.status(disc).question.id == "leg_pain.relief_after_surgery"  # type: ignore[union-attr]


def test_no_relief_implies_onset_day_zero_and_skips_speed(interviewer: Interviewer) -> None:
    s = Session("clinician")
    for qid, value in [
        ("surgery.procedure", "discectomy"),
        ("days_since_surgery", 30),
        ("leg_pain.relief_after_surgery", "none"),
    ]:
        s = interviewer.answer(s, qid, value)
    assert interviewer.case_of(s)["leg_pain"]["onset_days"] == 0
    assert interviewer.status(s).question.id == "leg_pain.trend"  # type: ignore[union-attr]


def test_red_flag_screen_is_completed_before_any_stop(interviewer: Interviewer) -> None:
    # The timeline alone makes recurrent herniation very likely, yet the screen still comes.
    s = Session("patient")
    for qid, value in [
        ("surgery.procedure", "discectomy"),
        ("days_since_surgery", 75),
        ("leg_pain.relief_after_surgery", "complete"),
        ("leg_pain.onset_days", 70),
        ("leg_pain.onset_speed", "sudden"),
        ("leg_pain.trend", "stable"),
    ]:
        s = interviewer.answer(s, qid, value)
    status = interviewer.status(s)
    assert not status.done
    assert status.question is not None and status.question.id == "red_flags"
    assert set(status.question.group) == set(interviewer.red_flag_group("patient"))


def test_red_flag_answer_raises_triage(interviewer: Interviewer) -> None:
    s2 = answer_all(
        interviewer,
        Session("patient"),
        {"surgery.procedure": "laminectomy", "days_since_surgery": 2, "red_flags": ["saddle_anaesthesia"]},
    )
    status = interviewer.status(s2)
    assert status.assessment.triage.level == "emergency"
    assert interviewer.case_of(s2)["findings"]["saddle_anaesthesia"] is True
    assert interviewer.case_of(s2)["findings"]["fever"] is False  # unticked = absent


def test_undo_removes_the_last_answer(interviewer: Interviewer) -> None:
    s = interviewer.answer(Session("patient"), "surgery.procedure", "fusion")
    s = interviewer.answer(s, "days_since_surgery", 9)
    undone = interviewer.undo(s)
    assert undone.asked == ["surgery.procedure"]
    assert interviewer.status(undone).question.id == "days_since_surgery"  # type: ignore[union-attr]
    assert "days_since_surgery" not in interviewer.case_of(undone)


def test_dont_know_records_nothing_and_is_not_asked_again(interviewer: Interviewer) -> None:
    s = interviewer.answer(Session("patient"), "surgery.procedure", "fusion")
    s = interviewer.answer(s, "days_since_surgery", None)
    assert "days_since_surgery" not in interviewer.case_of(s)
    assert interviewer.status(s).question.id != "days_since_surgery"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("qid", "value", "words"),
    [
        ("surgery.procedure", "brain_surgery", "expected one of"),
        ("days_since_surgery", -3, "whole number"),
        ("slr_positive", "yes", "true, false"),
        ("red_flags", ["not_a_flag"], "not in the checklist"),
        ("no_such_question", True, "unknown question"),
    ],
)
def test_bad_answers_are_rejected(interviewer: Interviewer, qid: str, value: object, words: str) -> None:
    with pytest.raises(CaseError) as info:
        interviewer.answer(Session("clinician"), qid, value)
    assert words in str(info.value)


def test_onset_after_today_is_rejected(interviewer: Interviewer) -> None:
    s = interviewer.answer(Session("patient"), "days_since_surgery", 10)
    with pytest.raises(CaseError) as info:
        interviewer.answer(s, "leg_pain.onset_days", 20)
    assert "leg_pain.onset_days" in str(info.value)


def test_session_round_trips_as_json(interviewer: Interviewer) -> None:
    s = interviewer.answer(Session("clinician", case_id="x"), "surgery.procedure", "fusion")
    again = Session.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s
    with pytest.raises(CaseError):
        Session.from_dict({"mode": "robot", "answers": []})


def test_patient_mode_asks_no_examination_or_tests(interviewer: Interviewer) -> None:
    case = json.loads((VIGNETTES / "14-foot-drop-after-leg-crossing.json").read_text())["case"]
    transcript = simulate(interviewer, case, "patient")
    kb = interviewer.engine.kb
    singles = [q for q in transcript.questions if isinstance(q, str) and q in kb.finding_ids]
    assert all(kb.finding(q).patient_question for q in singles)


def test_stops_at_the_question_limit(engine: Engine) -> None:
    iv = Interviewer(engine)
    iv.settings = iv.settings.model_copy(update={"max_questions": 3, "stop_probability": 1.0})
    case = json.loads((VIGNETTES / "01-gradual-return-at-six-weeks.json").read_text())["case"]
    transcript = simulate(iv, case, "clinician")
    assert transcript.reason == "maximum number of questions reached"
    assert "red_flags" in transcript.session.asked  # the screen still came first


def test_stops_when_the_leading_cause_is_probable_enough(engine: Engine) -> None:
    iv = Interviewer(engine)
    case = json.loads((VIGNETTES / "02-sudden-return-after-lifting.json").read_text())["case"]
    transcript = simulate(iv, case, "clinician")
    assert transcript.reason == "the leading cause is probable enough"
    assert transcript.assessment.differential[0][1] >= iv.settings.stop_probability


def test_stops_when_no_question_would_change_the_picture(engine: Engine) -> None:
    iv = Interviewer(engine)
    iv.settings = iv.settings.model_copy(update={"min_value_per_cost": 1e9, "stop_probability": 1.0})
    case = json.loads((VIGNETTES / "01-gradual-return-at-six-weeks.json").read_text())["case"]
    transcript = simulate(iv, case, "clinician")
    assert transcript.reason == "no remaining question would change the picture"


def test_the_question_that_separates_the_top_two_comes_first(tmp_path: Path) -> None:
    # Oracle: a two-cause knowledge base in which only `event_before_onset` differs between
    # the causes. After the timeline and the red-flag screen, it must be the next question.
    root = tmp_path / "kb"
    shutil.copytree(default_data_dir(), root)
    keep = {"recurrent_disc_herniation", "epidural_fibrosis"}
    for path in (root / "conditions").glob("*.yaml"):
        if path.stem not in keep:
            path.unlink()
    template = yaml.safe_load((root / "conditions" / "epidural_fibrosis.yaml").read_text())
    for cid in keep:
        path = root / "conditions" / f"{cid}.yaml"
        data = yaml.safe_load(path.read_text())
        data["prior"] = template["prior"]
        data["prior_modifiers"], data["age_modifiers"], data["sex_modifiers"] = [], [], []
        data["timing"] = template["timing"]
        data["likelihoods"] = {
            "event_before_onset": {
                "p": 0.9 if cid == "recurrent_disc_herniation" else 0.05,
                "estimate": "test",
            }
        }
        path.write_text(yaml.safe_dump(data))
    interview = yaml.safe_load((root / "interview.yaml").read_text())
    interview["checklists"] = [c for c in interview["checklists"] if c.get("red_flags")]
    interview["settings"]["stop_probability"] = 0.99
    interview["settings"]["min_value_per_cost"] = 0.0
    (root / "interview.yaml").write_text(yaml.safe_dump(interview))
    iv = Interviewer(load_engine(root))
    s = answer_all(iv, Session("clinician"), {"surgery.procedure": "discectomy", "red_flags": []})
    status = iv.status(s)
    assert status.question is not None and status.question.id == "event_before_onset"


def test_public_vignettes_meet_the_interview_bar(engine: Engine) -> None:
    vignettes = load_vignettes(VIGNETTES, engine)
    for mode, limit in (("clinician", 10), ("patient", 12)):
        results = evaluate_interview(engine, vignettes, mode)
        summary = interview_summary(results)
        assert summary["median_questions"] <= limit, (mode, [r.questions for r in results])
        assert summary["top3_full"] - summary["top3_at_stop"] <= 1, mode
        assert summary["missed_red_flags"] == 0, mode
        assert summary["under_triage_at_stop"] == 0, mode
        assert statistics.median(r.questions for r in results) >= len(TIMELINE) - 1


runner = CliRunner()


def test_cli_simulate_json() -> None:
    result = runner.invoke(
        app,
        [
            "interview",
            "--simulate",
            str(VIGNETTES / "09-swollen-calf-day-nine.json"),
            "--mode",
            "patient",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["questions"][0] == "surgery.procedure"
    assert any(isinstance(q, list) and "calf_swelling_or_tenderness" in q for q in data["questions"])
    assert data["assessment"]["triage"]["level"] == "urgent"


def test_cli_interactive_with_undo_and_dont_know(tmp_path: Path) -> None:
    saved = tmp_path / "case.json"
    # procedure 1 (discectomy), days "2w", back, days "3 weeks", relief 3 (none), trend ?, red flags 0,
    # symptoms "1,2", then don't know to everything else.
    answers = "\n".join(["1", "2w", "b", "3 weeks", "3", "?", "0", "1,2"] + ["?"] * 30) + "\n"
    result = runner.invoke(app, ["interview", "--mode", "patient", "--save", str(saved)], input=answers)
    assert result.exit_code == 0, result.output
    case = json.loads(saved.read_text())
    assert case["surgery"]["procedure"] == "discectomy"
    assert case["days_since_surgery"] == 21
    assert case["leg_pain"] == {"relief_after_surgery": "none", "onset_days": 0}
    assert case["findings"]["same_distribution_as_before_surgery"] is True
    assert case["findings"]["fever"] is False
    assert "TRIAGE" in result.stdout


def test_cli_validate_interview() -> None:
    result = runner.invoke(app, ["validate", str(VIGNETTES), "--interview", "--mode", "clinician"])
    assert result.exit_code == 0, result.output
    assert "median questions" in result.stdout
