"""The adaptive interview: the fewest questions to a safe, confident answer. Pure: no I/O.

Order: the surgical timeline first (the timing model needs it), then one grouped red-flag
checklist (always completed before the interview may stop), then finding questions chosen by
expected information gain over the differential and the triage level, divided by cost. Stops
when the leading cause is probable enough, when no question would change the picture, or at a
maximum. A session is plain JSON-able data, so a service can keep it in its database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rootcause.engine.assess import Assessment, BatchScores, Engine
from rootcause.engine.next_steps import gain_per_cost
from rootcause.engine.timeline import build_timeline
from rootcause.errors import CaseError, FieldProblem
from rootcause.knowledge.schema import Checklist, TimelineQuestion

Mode = Literal["patient", "clinician"]
MODES: tuple[Mode, ...] = ("patient", "clinician")
RED_FLAGS = "red_flags"
DONT_KNOW = None


@dataclass(frozen=True)
class Question:
    """One question put to the user."""

    id: str
    kind: Literal["yes_no", "choice", "days", "checklist"]
    text: str
    options: list[dict[str, str]] = field(default_factory=list)
    category: str = "finding"

    @property
    def group(self) -> list[str]:
        return [o["value"] for o in self.options] if self.kind == "checklist" else []

    def key(self) -> str | list[str]:
        """How the question is named in a transcript: an id, or the ids of a checklist."""
        return self.group if self.kind == "checklist" else self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "options": self.options,
            "category": self.category,
        }


@dataclass
class Session:
    """The interview so far: mode, an optional case id, and answers in the order given."""

    mode: Mode
    answers: list[dict[str, Any]] = field(default_factory=list)
    case_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "answers": list(self.answers), "case_id": self.case_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        mode = data.get("mode")
        if mode not in MODES:
            raise CaseError([FieldProblem("mode", f"expected one of {', '.join(MODES)}")])
        answers = data.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, dict) and "question" in a for a in answers):
            raise CaseError([FieldProblem("answers", "expected a list of {question, value} objects")])
        return cls(mode=mode, answers=list(answers), case_id=data.get("case_id"))

    @property
    def asked(self) -> list[str]:
        return [a["question"] for a in self.answers]


@dataclass(frozen=True)
class Status:
    done: bool
    reason: str
    question: Question | None
    assessment: Assessment
    questions_asked: int


class Interviewer:
    """Chooses questions and applies answers for one knowledge base."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        kb = engine.kb
        self.settings = kb.interview.settings
        self.timeline = list(kb.interview.timeline)
        self.checklists = list(kb.interview.checklists)
        self._checklist = {c.id: c for c in self.checklists}
        self._finding = {f.id: f for f in kb.findings}
        self._timeline = {q.id: q for q in self.timeline}
        model = engine.model
        self._allowed = {
            "patient": np.array([f.patient_question is not None for f in kb.findings]),
            "clinician": np.ones(model.n_findings, dtype=bool),
        }
        self._red_flags = {
            mode: [f.id for f in kb.findings if f.red_flag and (mode == "clinician" or f.patient_question)]
            for mode in MODES
        }

    # ------------------------------------------------------------------ questions

    def red_flag_group(self, mode: Mode) -> list[str]:
        return self._red_flags[mode]

    def checklist_items(self, checklist: Checklist, mode: Mode) -> list[str]:
        if checklist.red_flags:
            return self._red_flags[mode]
        allowed = self._allowed[mode]
        index = self.engine.model.finding_index
        return [f for f in checklist.findings if allowed[index[f]]]

    def _timeline_question(self, q: TimelineQuestion, mode: Mode) -> Question:
        text = q.patient if mode == "patient" else q.clinician
        options = [
            {"value": o.value, "label": o.patient if mode == "patient" else o.clinician} for o in q.options
        ]
        return Question(q.id, "choice" if q.kind == "choice" else "days", text, options, "timeline")

    def _checklist_question(self, checklist: Checklist, mode: Mode) -> Question:
        options = []
        for fid in self.checklist_items(checklist, mode):
            f = self._finding[fid]
            label = f.patient_text if mode == "patient" else f.clinician_text
            options.append({"value": fid, "label": label})
        text = checklist.patient if mode == "patient" else checklist.clinician
        return Question(checklist.id, "checklist", text, options, checklist.id)

    def finding_question(self, fid: str, mode: Mode) -> Question:
        f = self._finding[fid]
        text = f.patient_question if mode == "patient" and f.patient_question else f.clinician_question
        return Question(fid, "yes_no", text, [], f.category)

    def question(self, question_id: str, mode: Mode) -> Question:
        if question_id in self._timeline:
            return self._timeline_question(self._timeline[question_id], mode)
        if question_id in self._checklist:
            return self._checklist_question(self._checklist[question_id], mode)
        if question_id in self._finding:
            return self.finding_question(question_id, mode)
        raise CaseError([FieldProblem("question", f"unknown question {question_id!r}")])

    # ------------------------------------------------------------------ case

    def case_of(self, session: Session) -> dict[str, Any]:
        """The case the answers so far describe (procedure 'other' until it is known)."""
        case: dict[str, Any] = {"surgery": {"procedure": "other"}, "findings": {}}
        if session.case_id:
            case["id"] = session.case_id
        leg: dict[str, Any] = {}
        for a in session.answers:
            qid, value = a["question"], a.get("value")
            if value is None:
                continue
            if qid.startswith("surgery."):
                case["surgery"][qid.split(".", 1)[1]] = value
            elif qid == "days_since_surgery":
                case["days_since_surgery"] = value
            elif qid.startswith("leg_pain."):
                leg[qid.split(".", 1)[1]] = value
            elif qid in self._checklist:
                for fid in value.get("present", []):
                    case["findings"][fid] = True
                for fid in value.get("absent", []):
                    case["findings"][fid] = False
            else:
                case["findings"][qid] = value
        for q in self.timeline:
            implied = q.implied_by
            field_name = q.id.split(".", 1)[1] if q.id.startswith("leg_pain.") else None
            if implied and field_name and field_name not in leg:
                source = implied.field.split(".", 1)[1]
                if leg.get(source) == implied.value:
                    leg[field_name] = implied.sets
        if leg:
            case["leg_pain"] = leg
        return case

    # ------------------------------------------------------------------ answers

    def answer(self, session: Session, question_id: str, value: Any) -> Session:
        """Record an answer (None = don't know); raise CaseError naming what was wrong."""
        q = self.question(question_id, session.mode)
        if question_id in session.asked:
            raise CaseError([FieldProblem("question", f"{question_id!r} was already answered; undo first")])
        normalised = self._normalise(q, value)
        trial = Session(
            session.mode, [*session.answers, {"question": question_id, "value": normalised}], session.case_id
        )
        self.engine.parse(self.case_of(trial))  # rejects impossible timelines (onset after today)
        return trial

    def _normalise(self, q: Question, value: Any) -> Any:
        if value is None:
            return None
        where = f"answer to {q.id}"
        if q.kind == "yes_no":
            if not isinstance(value, bool):
                raise CaseError([FieldProblem(where, "expected true, false or null (don't know)")])
            return value
        if q.kind == "choice":
            allowed = [o["value"] for o in q.options]
            if value not in allowed:
                raise CaseError([FieldProblem(where, f"expected one of {', '.join(allowed)}")])
            return value
        if q.kind == "days":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36500:
                raise CaseError([FieldProblem(where, "expected a whole number of days from 0 to 36500")])
            return value
        group = q.group
        if isinstance(value, list):
            value = {"present": value, "absent": [f for f in group if f not in value]}
        if not isinstance(value, dict) or not set(value) <= {"present", "absent"}:
            raise CaseError([FieldProblem(where, "expected a list of present ids or {present, absent}")])
        present, absent = list(value.get("present", [])), list(value.get("absent", []))
        unknown = [f for f in present + absent if f not in group]
        if unknown:
            raise CaseError([FieldProblem(where, f"not in the checklist: {', '.join(map(str, unknown))}")])
        return {"present": present, "absent": [f for f in absent if f not in present]}

    def undo(self, session: Session) -> Session:
        return Session(session.mode, session.answers[:-1], session.case_id)

    # ------------------------------------------------------------------ choosing

    def _pending_timeline(self, session: Session, case: dict[str, Any]) -> TimelineQuestion | None:
        asked = set(session.asked)
        leg = case.get("leg_pain", {})
        for q in self.timeline:
            if q.id in asked:
                continue
            name = q.id.split(".", 1)[1] if q.id.startswith("leg_pain.") else None
            if name and name in leg:  # implied by an earlier answer
                continue
            if q.skip_if_onset_day_zero and leg.get("onset_days") == 0:
                continue
            if q.id == "leg_pain.onset_days" and case.get("days_since_surgery") == 0:
                continue
            if q.only_for_procedures and case["surgery"]["procedure"] not in q.only_for_procedures:
                continue
            return q
        return None

    def status(self, session: Session) -> Status:
        """Where the interview stands: the next question or why it stopped, and the assessment."""
        case = self.case_of(session)
        assessment, scores = self.engine.assess_scored(case, explain=False)
        n = len(session.answers)
        pending = self._pending_timeline(session, case)
        if pending is not None:
            return Status(False, "timeline", self._timeline_question(pending, session.mode), assessment, n)
        for checklist in self.checklists:
            if checklist.id not in session.asked:
                question = self._checklist_question(checklist, session.mode)
                return Status(False, checklist.id, question, assessment, n)
        reason = ""
        if n >= self.settings.max_questions:
            reason = "maximum number of questions reached"
        elif assessment.differential[0][1] >= self.settings.stop_probability:
            reason = "the leading cause is probable enough"
        else:
            best, value = self._best_finding(session, scores)
            if best is None or value < self.settings.min_value_per_cost:
                reason = "no remaining question would change the picture"
            else:
                question = self.finding_question(best, session.mode)
                return Status(False, "information gain", question, assessment, n)
        final = self.engine.assess(case)  # with explanations and treatments
        return Status(True, reason, None, final, n)

    def _best_finding(self, session: Session, scores: BatchScores) -> tuple[str | None, float]:
        model = self.engine.model
        asked = set(session.asked)
        per_cost = gain_per_cost(model, scores.posterior, scores.encoded.known, scores.floor)
        row = per_cost[0].copy()
        covered = [f for c in self.checklists if c.id in asked for f in self.checklist_items(c, session.mode)]
        blocked = ~self._allowed[session.mode] | np.isin(model.findings, [*asked, *covered])
        row[blocked] = -np.inf
        j = int(row.argmax())
        return (model.findings[j], float(row[j])) if np.isfinite(row[j]) else (None, 0.0)


# ---------------------------------------------------------------------- simulation


def simulated_answer(interviewer: Interviewer, question: Question, case: dict[str, Any]) -> Any:
    """Answer a question from a known case; what the case does not say is "don't know"."""
    engine = interviewer.engine
    parsed = engine.parse(case)
    findings = case.get("findings", {})
    if question.kind == "checklist":
        present = [f for f in question.group if findings.get(f) is True]
        absent = [f for f in question.group if findings.get(f) is False]
        return {"present": present, "absent": absent} if present or absent else None
    if question.kind == "yes_no":
        return findings.get(question.id)
    timeline = build_timeline(parsed)
    return {
        "surgery.procedure": parsed.surgery.procedure,
        "surgery.route": parsed.surgery.route,
        "days_since_surgery": timeline.days_since_surgery,
        "leg_pain.relief_after_surgery": timeline.relief,
        "leg_pain.onset_days": timeline.onset_days,
        "leg_pain.onset_speed": timeline.speed,
        "leg_pain.trend": timeline.trend,
    }.get(question.id)


@dataclass(frozen=True)
class Transcript:
    questions: list[str | list[str]]
    assessment: Assessment
    reason: str
    session: Session


def simulate(interviewer: Interviewer, case: dict[str, Any], mode: Mode) -> Transcript:
    """Run the interview non-interactively, answering each question from the case."""
    session = Session(mode, case_id=case.get("id"))
    questions: list[str | list[str]] = []
    limit = interviewer.settings.max_questions + len(interviewer.timeline) + len(interviewer.checklists)
    for _ in range(limit):
        status = interviewer.status(session)
        if status.done or status.question is None:
            return Transcript(questions, status.assessment, status.reason, session)
        q = status.question
        questions.append(q.key())
        session = interviewer.answer(session, q.id, simulated_answer(interviewer, q, case))
    status = interviewer.status(session)
    return Transcript(questions, status.assessment, "question limit", session)
