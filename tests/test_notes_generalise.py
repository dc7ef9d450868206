"""The note reader on writing it was not tuned for: the held-out notes (tests/data/notes_heldout, other
authors' styles: US abbreviations and dates, SOAP notes, imaging reports, relatives' and patients'
messages with typos), one test sentence per general rule added for them, the typo corrector's offset
map, and the lean ConText/Sectionizer drivers against medspaCy's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rootcause import Engine
from rootcause.adapters.notes import read_note
from rootcause.adapters.notes.scoring import evaluate, load_notes
from rootcause.adapters.notes.typos import Corrector, OffsetMap
from rootcause.knowledge.schema import TRIAGE_LEVELS

DATA = Path(__file__).parent / "data"


def case(text: str, note_date: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = read_note(text, note_date).case
    return result


def findings(text: str, note_date: str | None = None) -> dict[str, bool]:
    result: dict[str, bool] = case(text, note_date).get("findings", {})
    return result


def test_heldout_notes_score() -> None:
    notes = load_notes(DATA / "notes_heldout")
    assert len(notes) >= 30
    report = evaluate(notes, lambda text, date: read_note(text, date).case)
    summary = report.summary()
    assert summary["findings_present"]["f1"] >= 0.95, summary
    assert summary["findings_absent"]["f1"] >= 0.95, summary
    assert summary["red_flag_polarity_errors"] <= 1, report.red_flag_errors
    assert summary["fields"]["surgery.procedure"]["accuracy"] == 1.0
    assert summary["fields"]["days_since_surgery"]["accuracy"] >= 0.95


# Held-out note sets written in session 5 by helpers who saw only the shared rules and examples. The floors
# are what the general rules they prompted reached; first runs (the honest estimate) are in docs/notes.md:
# notes_heldout2 F1 0.77/0.85 with 8 red-flag errors, notes_heldout3 0.69/0.81 (US) and 0.77/0.90 (UK)
# with 12, notes_heldout4 (terse, non-specialist, patient) 0.79/0.79 with 4. The second set's annotator
# marks a dermatomal distribution from a traced pain path, which the public notes do not: left unread.
HELD_OUT_FLOORS = [
    # folder, F1 present, F1 absent, most red-flag polarity errors, procedure accuracy
    ("notes_heldout2", 0.86, 0.88, 1, 0.96),
    ("notes_heldout3", 0.79, 0.87, 4, 0.96),
    ("notes_heldout4", 0.80, 0.80, 0, 0.96),
    ("notes_heldout5", 0.82, 0.85, 2, 0.96),  # diagnostic tests and imaging; first run 0.81/0.85, 2
    # session 6 (first runs in docs/notes.md): letters, transcripts and other writers; templated US notes
    # (ROS, checkboxes, SOAP); timelines
    ("notes_heldout6", 0.83, 0.84, 1, 0.96),
    ("notes_heldout7", 0.84, 0.87, 3, 0.96),
    ("notes_heldout8", 0.83, 0.91, 1, 0.96),
    # patients' and carers' messages; examination-heavy notes (tables of myotomes, reflexes, injections)
    ("notes_heldout9", 0.83, 0.82, 0, 0.92),
    ("notes_heldout10", 0.81, 0.86, 0, 0.96),
    # a mixed note stream written after all the rules above: the honest estimate (first run 0.80 / 0.85, 0)
    ("notes_heldout11", 0.81, 0.85, 0, 0.96),
    # session 7: terse, abbreviated ward and ED notes (first run 0.86 / 0.83, 5 red-flag errors); writers
    # outside the spine team (first run 0.86 / 0.85, 3)
    ("notes_heldout12", 0.87, 0.84, 2, 0.96),
    ("notes_heldout13", 0.88, 0.85, 3, 0.96),
    # documents of several dated entries: discharge summaries, progress notes, call logs (first run
    # 0.80 / 0.86, 11 red-flag errors; days 17/25)
    ("notes_heldout14", 0.83, 0.89, 7, 0.96),
    # English as written around the world (first run 0.77 / 0.84, 3); dictated letters, AI-scribe summaries
    # and transcripts (first run 0.78 / 0.81, 3; days since surgery 13/24)
    ("notes_heldout15", 0.81, 0.86, 2, 0.96),
    ("notes_heldout16", 0.90, 0.92, 2, 0.96),
    # a mixed stream written after all the session-7 rules: the honest estimate (first run 0.78 / 0.84, 2)
    ("notes_heldout17", 0.80, 0.85, 2, 0.96),
    # session 8: EHR templates and smart-phrases (Y/N fields, dot leaders, checkboxes, "Denies:" lists; first
    # run 0.69 / 0.73 with 36 red-flag errors: a field answered "N" was read as present)
    ("notes_heldout18", 0.81, 0.88, 3, 0.96),
    # a mixed stream written after all the session-8 rules: the honest estimate (first run 0.82 / 0.87, 1)
    ("notes_heldout19", 0.82, 0.86, 1, 0.96),
    # what is and is not said: long histories, double negatives, contrasts, relatives' reports (first run
    # 0.83 / 0.86, 5 red-flag errors)
    ("notes_heldout20", 0.83, 0.86, 4, 0.96),
    # the story in numbers and time: pain diaries, score tables, many date forms (first run 0.84 / 0.91, 4
    # red-flag errors, all a stated normal the annotation leaves unsaid; days 21/25, trend 11/21)
    ("notes_heldout21", 0.83, 0.90, 4, 0.96),
    # a day's inbox written after every session-8 rule: the honest estimate (first run 0.85 / 0.89, 0 red-flag
    # errors, procedure 24/25, days since surgery 21/24)
    ("notes_heldout22", 0.85, 0.88, 0, 0.96),
    # session 9: shorthand, handovers and dictation with no punctuation (first run 0.78 / 0.85, 1 red-flag
    # error, triage lower in 4 notes)
    ("notes_heldout23", 0.84, 0.87, 1, 0.96),
    # a week's mixed inbox written after the session-9 rules: the honest estimate (first run 0.82 / 0.88, 2
    # red-flag errors, no note read a level lower; the reader at the session's start scored 0.82 / 0.88 too)
    ("notes_heldout24", 0.83, 0.88, 1, 0.96),
    # courses over time, several time points a note, written last in session 9 (first run 0.84 / 0.88, 2
    # red-flag errors, none lower; the reader at the session's start scored 0.83 / 0.88 with one lower)
    ("notes_heldout25", 0.84, 0.87, 1, 0.96),
    # session 10: long documents (multi-page letters, discharge summaries, MDT outcomes, medico-legal
    # chronologies); first run 0.85 / 0.85, 5 red-flag errors, procedure 22/25, days 21/25, triage lower in 3
    ("notes_heldout26", 0.86, 0.85, 1, 0.96),
    # a fortnight's mixed inbox written after every session-10 rule: the honest estimate (first run 0.89 /
    # 0.90, 0 red-flag errors, procedure 25/25, days since surgery 25/25, one note read a level lower)
    ("notes_heldout27", 0.88, 0.90, 0, 0.96),
    # session 11: writers in seven health systems (dictation slips, checkbox forms, copied-forward text,
    # patient messages, telegraphic notes); first run 0.76 / 0.85, 10 red-flag errors (a safety-net list
    # under "Come to the Emergency Department if you notice:"), procedure 24/25, age 22/25, 2 read lower
    ("notes_heldout28", 0.80, 0.86, 0, 0.96),
    # written last in session 11, after every rule above, by writers other than the surgeon (radiologist,
    # neurologist, vascular surgeon, anaesthetist, OT, pharmacist, paramedic, a diary, a relative's email):
    # the honest estimate. First run 0.84 / 0.88, 2 red-flag errors (a cauda equina "at the time" of an
    # earlier operation, read as now: emergency for a routine SI-joint pain), procedure 22/25, 3 read lower
    ("notes_heldout29", 0.84, 0.88, 0, 0.92),
]


@pytest.mark.parametrize(("folder", "present", "absent", "red_flags", "procedure"), HELD_OUT_FLOORS)
def test_later_heldout_sets_keep_their_score(
    folder: str, present: float, absent: float, red_flags: int, procedure: float
) -> None:
    report = evaluate(load_notes(DATA / folder), lambda text, date: read_note(text, date).case)
    summary = report.summary()
    assert summary["findings_present"]["f1"] >= present, summary
    assert summary["findings_absent"]["f1"] >= absent, summary
    assert summary["red_flag_polarity_errors"] <= red_flags, report.red_flag_errors
    assert summary["fields"]["surgery.procedure"]["accuracy"] >= procedure


@pytest.mark.parametrize(
    ("folder", "most"),
    [
        ("notes", 0),
        ("notes_extra", 1),
        # h05: its annotation gives no onset, so its lost reflex fires the new-radiculopathy rule
        ("notes_heldout", 2),
        ("notes_heldout2", 2),
        ("notes_heldout3", 3),
        ("notes_heldout4", 0),
        ("notes_heldout5", 2),
        ("notes_heldout6", 4),
        ("notes_heldout7", 1),
        ("notes_heldout8", 0),
        ("notes_heldout9", 4),
        ("notes_heldout10", 0),
        ("notes_heldout11", 1),
        ("notes_heldout12", 1),
        ("notes_heldout13", 1),
        ("notes_heldout14", 1),
        ("notes_heldout15", 0),
        ("notes_heldout16", 0),
        ("notes_heldout17", 0),
        ("notes_heldout18", 0),
        # h19-11: a missed level's root block told in a letter (soon -> routine)
        ("notes_heldout19", 1),
        # h20-19: a sciatic nerve tumour's new weakness not read as new (urgent -> soon)
        ("notes_heldout20", 1),
        ("notes_heldout21", 0),
        # h22-16: meralgia's numbness the day after surgery read as from the operation (soon -> routine)
        ("notes_heldout22", 1),
        ("notes_heldout23", 0),
        ("notes_heldout24", 0),
        ("notes_heldout25", 0),
        # h26-24: a weakness not read as new (urgent -> soon)
        ("notes_heldout26", 1),
        ("notes_heldout27", 0),
        # h28-04: a pseudomeningocele's "soft, fluctuant, non-tender swelling" unread (urgent -> soon)
        ("notes_heldout28", 1),
        # h29-11 (BMP bone narrowing the foramen, from an anaesthetic review) and h29-23 (a retained
        # haemostat's granuloma told in a medico-legal summary): each one level lower (h29-03, a radiology
        # report's contralateral recurrence, was read since its "Impression:" counts as findings)
        ("notes_heldout29", 2),
    ],
)
def test_reading_a_note_rarely_lowers_its_triage(engine: Engine, folder: str, most: int) -> None:
    """The safety end of reading: triage from the case read from a note against triage from the annotated
    case. Never more than one level lower, and lower in at most `most` notes of a set (measured in
    session 5: 0, 1, 1, 2 and 4; the lower ones are a step from escalation, not a missed red flag)."""
    lower = []
    for note in load_notes(DATA / folder):
        read = read_note(note.text, note.note_date).case
        if "surgery" not in read:
            continue
        want = TRIAGE_LEVELS.index(engine.assess(note.expected).triage.level)
        got = TRIAGE_LEVELS.index(engine.assess(read).triage.level)
        assert got >= want - 1, (note.name, TRIAGE_LEVELS[want], TRIAGE_LEVELS[got])
        if got < want:
            lower.append(note.name)
    assert len(lower) <= most, lower


@pytest.mark.parametrize("folder", ["notes", "notes_extra"])
def test_public_and_extra_notes_stay_exact(folder: str) -> None:
    report = evaluate(load_notes(DATA / folder), lambda text, date: read_note(text, date).case)
    summary = report.summary()
    assert summary["findings_present"]["f1"] == 1.0, report.per_note
    assert summary["findings_absent"]["f1"] == 1.0, report.per_note
    assert summary["red_flag_polarity_errors"] == 0
    assert all(v["accuracy"] == 1.0 for v in summary["fields"].values()), summary["fields"]


def test_heldout_notes_are_well_formed() -> None:
    from rootcause import load_engine

    engine = load_engine()
    for path in sorted((DATA / "notes_heldout").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        engine.parse(raw["expected_case"])
        for trap in raw["traps"]:
            assert trap["phrase"] in raw["text"], (path.name, trap["phrase"])


# ---------------------------------------------------------------------------- age, sex, relatives


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("RE: MRS ANNA-MARIE STEYN, 66 YEARS\nLaminectomy L4/5 on 3 December 2024.", 66, "female"),
        ("Pt: R. Kessler DOB: 07/22/1964\nSeen 02/17/2026\nL4-5 TLIF 05/08/2023.", 61, None),
        ("Kevin here - 52-year-old guy, I had my L4-5 fusion on Monday.", 52, "male"),
        ("61 yo F s/p L4-5 TLIF.", 61, "female"),
        ("Pt: 39 yo male, L4/5 PLIF.", 39, "male"),
        ("67 y/o male, s/p L3-L5 laminectomy.", 67, "male"),
        ("Re: Mrs Deborah Kline, 63 y.o.", 63, "female"),
        ("Re: Mr Ewan Fraser (age 51)", 51, "male"),
        ("Re: Mrs Nadia Rahman, DOB 04/07/1969. Letter dated 18/08/2026.", 57, "female"),
        ("Hiya, I'm Priya, 33. I had my discectomy.", 33, None),
        ("I'm writing on behalf of my Mum, Margaret (79), who had her decompression.", 79, "female"),
        ("Exam: T 98.6 F, HR 84. Tmax 100.4 F.", None, None),
        # a titled name doing things to the writer, or whose team is written to, is a clinician
        (
            "Hello, this is a message for Mr Ellis's team from Priya.\nMr Ellis came to see me afterwards.",
            None,
            None,
        ),
        # English as written around the world
        ("Name: Mrs. Lakshmi Narayanan   Age/Sex: 52/F", 52, "female"),
        ("64 yr/F, POD-2 s/p open laminectomy.", 64, "female"),
        ("Caller: Mrs Akosua Mensah (patient), 44 yrs.", 44, "female"),
    ],
)
def test_age_and_sex(text: str, age: int | None, sex: str | None) -> None:
    got = case(text)
    assert got.get("age") == age
    assert got.get("sex") == sex


# ---------------------------------------------------------------------------- numbers and units


@pytest.mark.parametrize(
    ("text", "finding", "value"),
    [
        ("Exam: T 98.6 F, HR 84.", "fever", False),
        ("O: Tmax 100.4 F. HR 88.", "fever", True),
        ("Presents w/ fever to 102.2 at home.", "fever", True),
        ("The nurse took her temperature at 38.6.", "fever", True),
        ("I had a temprature of 37.4 this morning.", "fever", False),
        ("D-dimer 1.2.", "d_dimer_elevated", True),
        (
            "Hb 95 (from 128 pre-op), a bigger fall than the EBL of 200 mL would explain.",
            "haemoglobin_drop",
            True,
        ),
        ("Hb 95 (from 128 pre-op). EBL 1500 mL.", "haemoglobin_drop", False),
        # a stated loss explains a fall only when it is large enough for it (~25 mL per g/L)
        ("Hb 88 from 121 pre-op; EBL 150 ml.", "haemoglobin_drop", True),
        ("Hb 8.8 from 12.1 pre-op; EBL 1.2 L.", "haemoglobin_drop", False),
        ("Hb 110 from 125 pre-op; EBL 400 mL.", "haemoglobin_drop", False),
        ("Haemoglobin fell from 12.4 to 8.9 overnight; EBL was 200 mL.", "haemoglobin_drop", True),
        ("Bloods: Hb 132 pre-op -> 104 POD 1 (in keeping with EBL).", "haemoglobin_drop", False),
        ("Hgb 10.8 (pre-op 12.9), c/w EBL 250 mL + hemodilution.", "haemoglobin_drop", False),
        ("Hgb 9.8 (pre-op 13.9) - consistent with EBL 1,100 mL.", "haemoglobin_drop", False),
        (
            "A fall in haemoglobin from 134 pre-op to 96, explained by a blood loss of 1.2 litres.",
            "event_before_onset",
            None,
        ),
        ("Hb 88 from 121 pre-op, in keeping with blood loss at surgery.", "haemoglobin_drop", False),
        ("Bloods: CRP 28, ESR 41, rheumatoid factor pending.", "esr_elevated", True),
        ("Labs: CRP 12 mg/L on POD 10, WBC 7.2 K/uL.", "crp_elevated", False),
    ],
)
def test_measurements(text: str, finding: str, value: bool) -> None:
    assert findings(text).get(finding) is value


# ---------------------------------------------------------------------------- negation, lists, blankets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Denies fever, chills, or night sweats.", {"fever": False}),
        ("Denies B/B changes.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        (
            "No bladder, bowel or saddle symptoms.",
            {"saddle_anaesthesia": False, "bladder_dysfunction": False},
        ),
        (
            "I have no problems peeing or with bowel movements.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False},
        ),
        ("He isnt diabetic.", {"diabetes": False}),
        ("I havent got a temperature.", {"fever": False}),
        ("no numbness down there and peeing fine.", {"saddle_anaesthesia": False}),
        ("+SLR at 40 deg on L.", {"slr_positive": True}),
        ("neg SLR bilat.", {"slr_positive": False}),
        ("+SLR L at 30 deg, -XSLR.", {"slr_positive": True, "crossed_slr_positive": False}),
        ("Incision c/d/i.", {"wound_problem": False}),
        ("Sensation decreased over L dorsum of foot.", {"dermatomal_sensory_loss": True}),
        (
            "Since 02:00 progressive weakness of both legs.",
            {"progressive_weakness": True, "leg_weakness": True},
        ),
        (
            "Incision intact with clear serous leak, no erythema.",
            {"clear_fluid_from_wound": True, "wound_problem": True},
        ),
        (
            "Her wound has some yellow stuff coming out.",
            {"wound_problem": True, "clear_fluid_from_wound": False},
        ),
        ("Mild LBP, worse bending, better lying down.", {"mechanical_back_pain": True}),
        ("Feet cool, DP/PT pulses not palpable bilat.", {"cold_pale_foot": True, "absent_foot_pulses": True}),
        # not voiding is retention (a cauda equina red flag), never a denial of bladder trouble
        ("He hasn't passed urine since this morning.", {"bladder_dysfunction": True}),
        ("Hasn't been able to pass urine since 6am.", {"bladder_dysfunction": True}),
        ("Has not passed urine for 12 hours.", {"bladder_dysfunction": True}),
        ("He hasn't passed urine much today.", {"bladder_dysfunction": None}),
        ("Passing urine normally.", {"bladder_dysfunction": False}),
        # grades as right/left pairs under a sides header; a bare "3/4" elsewhere is not a grade
        ("Power (R/L): hip flex 5/4, knee ext 5/4, DF 4/3, EHL 3/2.", {"leg_weakness": True}),
        ("Power (R/L): DF 5/2.", {"foot_drop": True}),
        ("Power R/L: 5/5 throughout.", {"leg_weakness": False}),
        ("RLE: EHL 5/5, TA 5/5, gastroc-soleus 5-/5.", {"leg_weakness": True}),
        ("Seen on 3/4 for review.", {"leg_weakness": None}),
        ("Pt feels legs getting heavier over the last 2-3 h.", {"progressive_weakness": True}),
        # "boggy", "fluctuant" and "tender" are the wound's only beside a wound word
        ("O/E: MCPs 2-4 tender and boggy bilat.", {"wound_problem": None, "wound_tender_fluctuant": None}),
        (
            "O/E: Incision with purulent drainage and surrounding erythema, fluctuant on palpation.",
            {"wound_tender_fluctuant": True, "wound_problem": True},
        ),
        ("Soft squishy lump under the scar, bigger when he stands.", {"wound_problem": True}),
        ("I dont have a temperature and the scar looks fine.", {"fever": False, "wound_problem": False}),
        # "no worse" is not "worse"; full power on one side does not deny the other side's weakness
        ("Weakness lifting the big toe, no worse since waking.", {"progressive_weakness": False}),
        (
            "L EHL 3/5, L TA 4/5, rest 5/5. R 5/5 throughout.",
            {"leg_weakness": True, "progressive_weakness": None},
        ),
        # retention that has resolved is absent now (annotation rule 6)
        (
            "Required straight cath x1 POD 0 for retention; Foley out, now voiding spontaneously.",
            {"bladder_dysfunction": False},
        ),
        (
            "Day 1: urinary retention (residual 650 ml), catheterised; TWOC Day 3 successful, voiding well.",
            {"bladder_dysfunction": False},
        ),
        ("Urinary retention today, 900 ml residual.", {"bladder_dysfunction": True}),
        ("He also describes urinary urgency with occasional leaking.", {"bladder_dysfunction": True}),
        ("Today I got winded walking to the mailbox.", {"chest_pain_or_breathlessness": True}),
        (
            "Sharp pain under my left ribs when I took a deep breath in.",
            {"chest_pain_or_breathlessness": True},
        ),
        ("My left leg is weak lifting it to get into the car.", {"leg_weakness": True}),
        ("FNST + R.", {"femoral_stretch_positive": True}),
        ("The lower end of the incision has been draining thick fluid.", {"wound_problem": True}),
        ("No problems with the wound.", {"wound_problem": False}),
        ("Weeing and pooing fine.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        ("No issues peeing or pooping.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        ("Power 4+/5 globally in both legs, unchanged from 2024.", {"progressive_weakness": False}),
        # round 3 (US and UK writers)
        (
            "He cannot lift the front of the foot - it just flops - and it is getting worse every day.",
            {"leg_weakness": True, "progressive_weakness": True},
        ),
        ("The left one feels weaker than friday.", {"leg_weakness": True, "progressive_weakness": True}),
        ("My wee is really slow and i have to push to get it going.", {"bladder_dysfunction": True}),
        (
            "Retention in recovery POD 0 (residual 750 ml) - TWOC POD 1 successful, PU ++ with good stream.",
            {"bladder_dysfunction": False},
        ),
        (
            "He presented with urinary retention and saddle numbness. Saddle sensation has fully returned.",
            {"saddle_anaesthesia": False},
        ),
        ("She was briefly pyrexial in recovery (37.9 C) with no further temperatures.", {"fever": False}),
        (
            "When I wiped after going to the bathroom I couldn't feel the toilet paper.",
            {"saddle_anaesthesia": True},
        ),
        ("I sat on the toilet for 20 minutes and only a little bit came out.", {"bladder_dysfunction": True}),
        (
            "Straight cath x1 on POD 0 for retention (bladder scan 620 mL). Urinary retention resolved.",
            {"bladder_dysfunction": False},
        ),
        ("Call for fever >101°F or wound drainage.", {"fever": None, "wound_problem": None}),
        ("I haven't had a bowel movement since the surgery.", {"bowel_dysfunction": None}),
        (
            "Denies trouble urinating, no bowel changes.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False},
        ),
        (
            "Voided normally at 19:00, normal BM this AM.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False},
        ),
        ("DP/PT pulses 2+ bilat.", {"absent_foot_pulses": False}),
        ("Social: nonsmoker, no EtOH.", {"heavy_alcohol_use": False, "smoker": False}),
        (
            "I've been good and haven't lifted anything heavier than a kettle!",
            {"early_vigorous_activity": False},
        ),
        ("R sciatica for ~8 months before the op.", {"long_preop_symptoms": True}),
        (
            "Indication: 2 years of bilateral buttock and leg pain with standing.",
            {"long_preop_symptoms": True},
        ),
        ("TLIF 08/2025 for R L5 radicular pain x 3 years.", {"long_preop_symptoms": True}),
        ("Now L leg pain x 3 days.", {"long_preop_symptoms": None}),
        # terse notation (round 4)
        ("Bladder/bowel normal, no saddle changes.", {"saddle_anaesthesia": False}),
        ("Calves: ✗ pain ✗ swelling.", {"calf_swelling_or_tenderness": False}),
        ("Urinary retention POD 1 → IDC → TWOC POD 2 ✓, PU normally since.", {"bladder_dysfunction": False}),
        ("O/E: power 5/5 ex R EHL 3, R PF 4.", {"leg_weakness": True}),
        ("Power: DF 2 L.", {"foot_drop": True}),
        ("Power: DF 5, EHL 5.", {"leg_weakness": None}),
        ("Femoral nerve stretch + on L.", {"femoral_stretch_positive": True}),
        ("Femoral stretch +ve on the left.", {"femoral_stretch_positive": True}),
        (
            "Three of five sacroiliac provocation tests were positive on the left.",
            {"si_provocation_positive": True},
        ),
        (
            "Deep R buttock ache, worse after sitting >20 min and driving.",
            {"buttock_pain_worse_sitting": True},
        ),
        ("Sitting is comfortable.", {"buttock_pain_worse_sitting": False}),
        (
            "Selective left L5 nerve-root block at the operated L5/S1 level: made no difference to his pain.",
            {"root_block_relief_operated_level": False},
        ),
        (
            "Right L5 transforaminal root block at the operated level: about 90% relief for five days.",
            {"root_block_relief_operated_level": True},
        ),
        ("Plan: consider a root block at the operated level.", {"root_block_relief_operated_level": None}),
        (
            "L foot 'slapping' since last night, worse this AM.",
            {"leg_weakness": True, "progressive_weakness": True},
        ),
        (
            "Straight cath x1 on POD 0 for retention (620 mL); since 06:00 POD 1 voiding spontaneously.",
            {"bladder_dysfunction": False},
        ),
        # asymmetric reflex grades, ankle-brachial indices, vascular imaging, lay breathlessness
        ("Reflexes: Achilles R 1+, L 2+; patellar 2+ bilat.", {"reflex_loss": True}),
        ("L patellar 1+, R 2+; Achilles 2+ bilat.", {"reflex_loss": True}),
        ("Pre-op: Achilles R 1+, L 2+.", {"reflex_loss": None}),
        ("ABI: R 1.04, L 0.58.", {"abi_low": True}),
        (
            "CTA: focal 80% stenosis of the L common iliac artery with an intimal flap.",
            {"angiography_arterial_lesion": True},
        ),
        (
            "Cramping in the L calf after a block, relieved within 2-3 min by standing still.",
            {"calf_claudication_relieved_by_standing": True},
        ),
        ("MRI: recurrent L paracentral extrusion at L4-5.", {"mri_disc_at_operated_level": True}),
        ("I got really puffed out walking up the stairs.", {"chest_pain_or_breathlessness": True}),
        # full power before the operation makes today's weakness new
        ("Right EHL 4/5 (5/5 pre-op).", {"new_motor_deficit": True, "preop_motor_deficit": False}),
        ("Reflexes: KJ/AJ ++ and symmetrical.", {"reflex_loss": False}),
        ("No fall, no lifting or twisting.", {"event_before_onset": False}),
        ("~6 weeks ago, no inciting event, she developed R thigh pain.", {"event_before_onset": False}),
        ("BNO since op (usual for him after GA). No faecal leakage.", {"bowel_dysfunction": False}),
        ("A headache, but it's the same lying down or sitting up.", {"positional_headache": False}),
        ("Incisional back pain worse w/ mobilizing, settles in bed.", {"mechanical_back_pain": True}),
        ("I lifted our window AC unit into the bedroom window by myself.", {"early_vigorous_activity": True}),
        ("Ruptured L ACL playing netball at 5/52 post-op.", {"early_vigorous_activity": True}),
        (
            "Back pain: can't get comfortable in any position, up all night with it.",
            {"severe_back_pain_at_rest": True},
        ),
        ("Same distribution as his pre-op sx.", {"same_distribution_as_before_surgery": True}),
        ("It's the exact same pain as before the surgery.", {"same_distribution_as_before_surgery": True}),
        # a grade weaker than one told before it, after the operation, is weakness getting worse
        ("EHL 4/5 last week, now 3/5.", {"progressive_weakness": True, "leg_weakness": True}),
        ("Power in the left EHL has deteriorated from 4/5 to 2/5.", {"progressive_weakness": True}),
        ("L TA 4/5 -> 2/5 over 6 hours.", {"progressive_weakness": True}),
        ("Yesterday EHL was 4/5. Today EHL is 2/5.", {"progressive_weakness": True}),
        ("Left EHL 2/5, was 4/5 on admission.", {"progressive_weakness": True}),
        ("EHL 3/5 on the left (4/5 yesterday).", {"progressive_weakness": True}),
        ("EHL improved from 3/5 to 4/5.", {"progressive_weakness": None, "leg_weakness": True}),
        ("R EHL 4/5, L EHL 2/5.", {"progressive_weakness": None}),
        # templated questions answered on the line, review-of-systems signs and ticked boxes
        ("Fever/chills? No.", {"fever": False}),
        ("Bladder/bowel control? Normal.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        ("Calf swelling? Yes.", {"calf_swelling_or_tenderness": True}),
        (
            "ROS: (-) saddle anesthesia, (-) b/b dysfunction, (-) fevers/chills.",
            {
                "saddle_anaesthesia": False,
                "bladder_dysfunction": False,
                "bowel_dysfunction": False,
                "fever": False,
            },
        ),
        ("Fever/chills ............. [ ] Y  [x] N", {"fever": False}),
        ("Calf pain/swelling ....... [X] Y  [ ] N", {"calf_swelling_or_tenderness": True}),
        # a question still queries what it names when it ends a line or is long
        (
            "DR: Any chest pain, or are you short of breath at all?\nPT: No.",
            {"chest_pain_or_breathlessness": False},
        ),
        ("DR: Have you had a temperature?\nPT: No.", {"fever": False}),
        (
            "DR: Any problems with your waterworks or bowels?\nPT: No, all normal.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False},
        ),
        ("DR: Is the calf swollen?\nPT: Yes, really tight.", {"calf_swelling_or_tenderness": True}),
        (
            "ROS: (+) fever. (-) saddle anesthesia, urinary retention/incontinence, bowel incontinence, SOB.",
            {
                "fever": True,
                "saddle_anaesthesia": False,
                "bladder_dysfunction": False,
                "bowel_dysfunction": False,
                "chest_pain_or_breathlessness": False,
            },
        ),
        ("ROS: (-) numbness, (-) saddle anesth, (-) b/b.", {"saddle_anaesthesia": False}),
        (
            "Deep L buttock pain, worse sitting + on the saddle, occasional tingling.",
            {"saddle_anaesthesia": None},
        ),
        (
            "Abdomen soft, appropriately tender at L paramedian incision; incision c/d/i.",
            {"wound_problem": False},
        ),
        (
            "Pre-op: R leg pain; power 5/5 throughout at pre-assessment. L: ankle DF 3/5, EHL 2/5. R 5/5.",
            {"leg_weakness": True, "new_motor_deficit": True, "preop_motor_deficit": False},
        ),
        (
            "O/E: Wound healed, no redness, no discharge, not tender.",
            {"wound_problem": False, "wound_tender_fluctuant": False},
        ),
        (
            "O/E: Incision well healed, no erythema, drainage or fluctuance.",
            {"wound_tender_fluctuant": False},
        ),
        ("No sphincter symptoms.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        (
            "S - 52M, back pain.\nB - L5/S1 microdiscectomy.\nA - Power 5/5. PU normally. Bowels normal.\n"
            "R - Review.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False, "leg_weakness": False},
        ),
        ("Reflexes: KJ 2+/2+, AJ 2+/0.", {"reflex_loss": True}),
        ("Reflexes KJ 2+/2+, AJ 2+/2+; Babinski downgoing.", {"reflex_loss": False}),
        ("KJ 1+/1+, AJ 1+/1+.", {"reflex_loss": None}),
        (
            "Left ankle plantarflexion is 4+/5 (5/5 at her pre-operative assessment); "
            "otherwise power is full.",
            {"leg_weakness": True, "new_motor_deficit": True, "preop_motor_deficit": False},
        ),
        ("Power 5/5 BLE except R EHL 4/5 (unchanged from pre-op).", {"leg_weakness": True}),
        ("The left ankle reflex is reduced compared with the right.", {"reflex_loss": True}),
        (
            "Temp: shivery evening of 10/06, husband got 38.3 - paracetamol, settled, nil since.",
            {"fever": True},
        ),
        ("PU/BO normal, no saddle numbness.", {"bladder_dysfunction": False, "bowel_dysfunction": False}),
        ("Coughing and sneezing make no difference.", {"pain_worse_with_cough_or_sneeze": False}),
        ("Ankle jerks are absent bilaterally, as they were before surgery.", {"reflex_loss": True}),
        (
            "She has had rigors on three nights and her husband recorded 38.6 °C on Tuesday.\n\n"
            "Today: T 37.6 °C.",
            {"fever": True},
        ),
        # patients' words
        ("Is same pain like before operation, same place.", {"same_distribution_as_before_surgery": True}),
        ("She's on the blood-thinning injections once a day.", {"anticoagulated": True}),
        (
            "His bottom and between his legs feel numb, and when he went to wipe he couldn't feel the paper.",
            {"saddle_anaesthesia": True},
        ),
        (
            "This morning I couldn't get a wee started, had to strain for ages and only a dribble came out.",
            {"bladder_dysfunction": True},
        ),
        (
            "My legs feel a bit weak but it's not getting any worse.",
            {"leg_weakness": True, "progressive_weakness": False},
        ),
        (
            "My left calf is still weaker on tiptoe but it's definitely not getting any weaker.",
            {"leg_weakness": True, "progressive_weakness": False},
        ),
        ("When I cough the pain go down the leg like electric.", {"neuropathic_pain_quality": True}),
        ("Wee normal, no temp.", {"bladder_dysfunction": False, "fever": False}),
        # power and reflex tables: a column per examination, or right/left pairs under a sides header
        (
            "Power (MRC)        08:30 R/L     14:10 R/L\n  Hip flexion       5 / 5         4 / 3\n"
            "  Ankle DF          5 / 5         3 / 2\nReflexes noted.",
            {"leg_weakness": True, "progressive_weakness": True, "foot_drop": True},
        ),
        (
            "Examination (R / L)\n  Hip flexion (L2)      5 / 5\n  Knee extension (L3)   5 / 4+\n"
            "  KJ                    2+ / 1+\n  AJ                    2+ / 2+\nSensation normal.",
            {"leg_weakness": True, "reflex_loss": True},
        ),
        (
            "Has to strain to start passing urine and hasn't felt his bladder fill today.",
            {"bladder_dysfunction": True},
        ),
        ("Says the L foot has got weaker since yesterday.", {"progressive_weakness": True}),
        (
            "The front of the foot just flops down when I walk, I can't lift it up at all.",
            {"foot_drop": True},
        ),
        # advice and conditions are not findings
        (
            "Return precautions given for saddle anesthesia, urinary retention, fever.",
            {"saddle_anaesthesia": None, "bladder_dysfunction": None, "fever": None},
        ),
        ("I'll call back if any change in power or bladder.", {"bladder_dysfunction": None}),
        # retention in recovery that has resolved; brand names of anticoagulants; passing urine "ok"
        (
            "Urinary retention in recovery (bladder scan 700 ml), catheterised; TWOC on day 1 successful and "
            "voiding normally since.",
            {"bladder_dysfunction": False},
        ),
        ("I still take Eliquis for my A-fib.", {"anticoagulated": True}),
        ("Meds: Lovenox 40 mg SQ daily started POD 1.", {"anticoagulated": True}),
        ("PU ok.", {"bladder_dysfunction": False}),
        # beside a pre-operative grade, the other grade is today's: a new deficit, not a pre-operative one
        (
            "EHL 3/5, was 5/5 pre-op.",
            {"leg_weakness": True, "new_motor_deficit": True, "preop_motor_deficit": False},
        ),
        ("EHL 4/5 pre-op, now 2/5.", {"leg_weakness": True, "preop_motor_deficit": True}),
        # a count of positive provocation tests is not a muscle grade
        (
            "Power L2-S1 5/5 bilaterally. SIJ: thigh thrust, compression and Gaenslen all -ve (0/5).",
            {"leg_weakness": False, "progressive_weakness": False},
        ),
        # a power table laid out with spaces: full power today; a full pre-operative column beside a weak one
        (
            "O:\nNeuro      R     L\n  L2       5     5\n  L3       5     5\n  L4       5     5\n"
            "  L5       5     5\n  S1       5     5\n  KJ       2+    2+\n",
            {
                "leg_weakness": False,
                "new_motor_deficit": False,
                "progressive_weakness": False,
                "reflex_loss": False,
            },
        ),
        (
            "Power (MRC):\n                 Pre-op L   Now L   Now R\n"
            "  Hip flexion      5          5       5\n"
            "  Ankle DF         5          1       5\n  EHL              5          0       5\n",
            {
                "leg_weakness": True,
                "foot_drop": True,
                "new_motor_deficit": True,
                "preop_motor_deficit": False,
            },
        ),
        # retention in patients' and nurses' words; a relative who helps is not the subject; an unassessable
        # bladder is not a normal one
        ("No urine passed since 6am.", {"bladder_dysfunction": True}),
        (
            "He needed his wife's help to get to the toilet, and he has not passed urine since 06:00.",
            {"bladder_dysfunction": True},
        ),
        ("Catheter in situ since theatre - can't assess bladder.", {}),
        ("His legs have been getting heavier and weaker by the hour.", {"progressive_weakness": True}),
        ("Can wiggle L toes but says leg feels weaker than R.", {"leg_weakness": True}),
        (
            "He says his bottom and the inside of his thighs feel 'like cotton wool'.",
            {"saddle_anaesthesia": True},
        ),
        ("No problems peeing or pooing and nothing numb 'down there'.", {"saddle_anaesthesia": False}),
        ("Saddle sensation intact to PP.", {"saddle_anaesthesia": False}),
        (
            "He showed me both calves and the left is visibly swollen compared with the right.",
            {"calf_swelling_or_tenderness": True},
        ),
        ("Sneezing is agony down the leg.", {"pain_worse_with_cough_or_sneeze": True}),
        ("New R leg pain - shooting/electric, buttock to foot.", {"neuropathic_pain_quality": True}),
        ("O: R EHL 4/5, ankle DF 4+/5, rest 5/5.", {"leg_weakness": True}),
        # a drug in a medicines list, later said to be stopped and not restarted
        (
            "Meds: enoxaparin 40 mg daily. Enoxaparin: he stopped the injections on 22/02 and has not "
            "restarted.",
            {"anticoagulated": False},
        ),
        (
            "Meds: apixaban 5 mg bd. Apixaban stopped 2 days pre-op, restarted day 1.",
            {"anticoagulated": True},
        ),
        # a result line under an impression reports what was found, not a plan
        (
            "Imp: progressive deficit ?epidural haematoma -> MRI stat\n"
            "MRI 04:05: large dorsal epidural collection "
            "L2-L4 compressing thecal sac.",
            {"mri_epidural_collection": True},
        ),
        # an entry after a plan is read again; in a note of dated entries, what a later entry denies is over
        (
            "16/06/2026: L4/5 open TLIF.\n17/06 21:40 (F1): new R leg pain. Plan: analgesia, neuro obs.\n"
            "18/06 00:50 (F1): Not PU since 19:00; bladder scan 780 ml.",
            {"bladder_dysfunction": True},
        ),
        (
            "Call 1 - 05/02/2026 (day 3): headache on standing.\nAdvice: fluids, lie flat.\n"
            "Call 3 - 16/02/2026 (day 14): clear watery fluid leaking from the wound.",
            {"clear_fluid_from_wound": True},
        ),
        (
            "Microdiscectomy 28/08/2025.\n10/09/2025 (nurse): wound red and warm, yellow discharge.\n"
            "12/11/2025: wound healed, non-tender.",
            {"wound_problem": False},
        ),
        ("Wed 10/06 19:30\nFoot is weaker than this morning.", {"progressive_weakness": True}),
        # a trigger in a patient's words; a later timed entry's denial ("Triage 08:50", "ED registrar 09:40")
        (
            "Bent down to pick up my son's shoe last night and felt a click in my back.",
            {"event_before_onset": True},
        ),
        (
            "5 days ago, lifting a suitcase into the car boot, sudden severe pain down the L thigh.",
            {"event_before_onset": True},
        ),
        (
            "Triage 08:50 (RN): c/o 'numbness in my leg and my bottom'.\nED registrar 09:40:\n"
            "She clarifies that her "
            "buttocks, genitals and perineum feel normal.",
            {"saddle_anaesthesia": False},
        ),
        # how long the leg pain lasted before the operation, as different writers say it
        (
            "Open L4/5 TLIF on 14/07/2026 for spondylolisthesis with right leg pain of 2 years' duration.",
            {"long_preop_symptoms": True},
        ),
        (
            "Laminotomy on 19/01/2026 for right L5 radiculopathy of about 8 months' duration.",
            {"long_preop_symptoms": True},
        ),
        (
            "Before operation I was having pain and burning in left leg since 3 years.",
            {"long_preop_symptoms": True},
        ),
        (
            "O/E: Dorsalis pedis and posterior tibial pulses well felt bilaterally.",
            {"absent_foot_pulses": False},
        ),
        (
            "Post-op MRI with gadolinium: no recurrence and no residual compression at L4-L5.",
            {"mri_disc_at_operated_level": False},
        ),
        # the same pain as before the operation, as writers say it
        (
            "The pain was shooting into my heel again, same exact path as before the surgery.",
            {"same_distribution_as_before_surgery": True},
        ),
        (
            "She describes exactly the same pain as before - left buttock to the foot.",
            {"same_distribution_as_before_surgery": True},
        ),
        # a patient's own words for a leak after a dural tear; signs of non-union on CT
        (
            "They told me there had been a small nick in the lining around the nerves. I've had a pounding "
            "headache at the back of my head whenever I sit or stand up. The pillowcase had a patch of clear "
            "watery stuff.",
            {"dural_tear_at_surgery": True, "positional_headache": True, "clear_fluid_from_wound": True},
        ),
        ("CT: no bridging trabecular bone through the cage, with a lucent cleft.", {"ct_nonunion": True}),
        ("A cough or sneeze doesn't affect it.", {"pain_worse_with_cough_or_sneeze": False}),
        (
            "TLIF for spondylolisthesis, with bilateral L5 root pain going back about two years.",
            {"long_preop_symptoms": True},
        ),
        # brand names, discharge-summary sections, grades told against a clock time
        ("K/C/O HTN, CAD - on Tab. Ecosprin 75 mg OD.", {"anticoagulated": True}),
        (
            "Diagnosis: ?recurrent disc.\nCourse in hospital: on POD-1 pt c/o burning over the outer thigh. "
            "Wound "
            "healthy. Afebrile throughout stay.",
            {"fever": False, "wound_problem": False, "neuropathic_pain_quality": True},
        ),
        ("B/L ankle DF 2/5 at 1 am, now 1/5.", {"progressive_weakness": True, "foot_drop": True}),
        ("I cannot lift up the front of the foot, it is slapping on the floor.", {"foot_drop": True}),
        (
            "Since yesterday the dressing is wet with clear, water-like fluid.",
            {"clear_fluid_from_wound": True},
        ),
        # vital signs, not "versus"
        ("O: VS: T 37.2  Tmax 38.1 (POD#1 eve, resolved w/ IS + ambulation)  HR 88", {"fever": True}),
        # the weakness told as not getting worse, in its sentence or the next one opening with its subject
        ("The weakness has not changed since day 1.", {"leg_weakness": True, "progressive_weakness": False}),
        (
            "Over two days he developed a right foot drop. It has not worsened since.",
            {"foot_drop": True, "progressive_weakness": False},
        ),
        # template fields answered no: after a colon, dot leaders, in a Y/N row, paired, at the very end
        ("Leg weakness: N\nNumbness: Y - dorsum of foot", {"leg_weakness": False, "numbness": True}),
        (
            "  Saddle anaesthesia ............ N\n  Fever / rigors ................ Y",
            {"saddle_anaesthesia": False},
        ),
        (
            "ROS: Fever N | Cough Y (dry) | Saddle numbness N | Bowel N",
            {"fever": False, "saddle_anaesthesia": False, "bowel_dysfunction": False},
        ),
        ("  P&N / numbness ................ N / N", {"paraesthesia": False, "numbness": False}),
        # a bare N that is not an answer: nausea and vomiting, an initial
        ("Painful calf swelling, N/V since yesterday.", {"calf_swelling_or_tenderness": True}),
        ("Seen with Nurse N. Smith: new leg weakness.", {"leg_weakness": True}),
        ("Needs to sit or bend forward for relief: No", {"neurogenic_claudication": False}),
        ("Current meds: amlodipine. Aspirin: not taking.", {"anticoagulated": False}),
        ("VTE: IPC devices only; LMWH not yet started.", {"anticoagulated": False}),
        # a negation cue written into a lexicon phrase ("denies back pain") still reaches the rest of its list
        (
            "He denies back pain at rest, fevers, night sweats, wound trouble, numbness or weakness.",
            {"fever": False, "numbness": False, "leg_weakness": False, "severe_back_pain_at_rest": False},
        ),
        # a medicine stopped by its subject; a deficit since recovered
        ("He stopped the aspirin last week.", {"anticoagulated": False}),
        (
            "I finished the blood-thinning injections on day 7 like the discharge letter said.",
            {"anticoagulated": False},
        ),
        (
            "By the time of surgery he had a left foot drop. The foot drop has since recovered.",
            {"foot_drop": False},
        ),
        # back pain's mechanical nature told a few words on; a slip measured on flexion-extension films
        (
            "His back pain has become much worse - deep, worse with any bending, lifting or twisting, and "
            "better lying down.",
            {"mechanical_back_pain": True},
        ),
        ("Flexion-extension radiographs: 4 mm of translation at L4/5.", {"xray_dynamic_instability": True}),
        # a wound's leak described after its ticked box, the unticked options blanked
        (
            "Wound: [x] leaking  [ ] red  [ ] swollen  [ ] gaping - clear, watery; soaked 2 pads overnight",
            {"clear_fluid_from_wound": True},
        ),
        # a headache's posture told with a word the claudication frame also names
        ("Headache on sitting or standing.", {"positional_headache": True}),
        # a grade copied forward from a pre-operative note is the baseline a weakness today is new against
        (
            "L5/S1 microdiscectomy yesterday.\n[Copied forward from pre-op clerking 02/02/2027: 'Power 5/5 "
            "throughout incl. PF.']\nO: L PF 3/5, toe flexion 3/5; DF 5/5.",
            {"new_motor_deficit": True, "leg_weakness": True},
        ),
        # a nursing chart of grades by the hour: today's row, and a fall from the first row
        (
            "L3-L5 laminectomy yesterday.\n"
            "Time  | R HF | R KE | R DF | L HF | L DF | Sensation\n"
            "18:00 |  5   |  5   |  5   |  5   |  5   | intact\n"
            "01:00 |  4   |  4   |  3   |  5   |  4   | reduced R shin\n"
            "04:00 |  3   |  3   |  2   |  4   |  3   | reduced both feet",
            {
                "leg_weakness": True,
                "progressive_weakness": True,
                "new_motor_deficit": True,
                "foot_drop": True,
            },
        ),
        (
            "L3-L5 laminectomy yesterday.\nTime    R HF  R DF  L HF  L DF\n18:00   5     5     5     5\n"
            "04:00   5     5     5     5",
            {"leg_weakness": False, "progressive_weakness": False},
        ),
        # a negative heading before a list
        (
            "Denies: fever, chills, saddle numbness, chest pain, SOB",
            {"fever": False, "saddle_anaesthesia": False, "chest_pain_or_breathlessness": False},
        ),
        (
            "ROS - Denies: saddle numbness, urinary or faecal incontinence.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False},
        ),
        # a grade against the pre-operative one; a posture late in a long sentence; a sensory loss's place
        ("Left plantarflexion 4+/5 (5/5 preoperatively); remaining groups 5/5.", {"new_motor_deficit": True}),
        ("L EHL 3/5 (5/5 at listing).", {"new_motor_deficit": True}),
        (
            "Headaches for about 2 weeks - build up through the day when she is up and about, ease within "
            "half an hour of lying flat.",
            {"positional_headache": True},
        ),
        ("Decreased light touch over the lateral left foot.", {"dermatomal_sensory_loss": True}),
        (
            "O: 5 x 4 cm soft, fluctuant swelling under the lower half of the scar, non-tender, no redness.",
            {"wound_tender_fluctuant": True, "wound_problem": True},
        ),
        # a form's bracketed answer; smoking as a template field
        ("Q6. Problems passing urine or controlling your bladder? [No]", {"bladder_dysfunction": False}),
        ("Smoking: never | Alcohol: none", {"smoker": False}),
        ("Smoking: ex (stopped 2019)", {"smoker": False}),
        ("Smoking: current, 15/day", {"smoker": True}),
        # a leg path labelled with its root
        (
            "R buttock, posterolateral thigh, lateral calf to dorsum of foot (L5)",
            {"dermatomal_distribution": True},
        ),
        # shorthand: a tick against an examined function is normal; plural reflex abbreviations
        (
            "Sphincters ✓, saddle sensation ✓.",
            {"bladder_dysfunction": False, "bowel_dysfunction": False, "saddle_anaesthesia": False},
        ),
        ("Sphincters fine, saddle sens intact.", {"bladder_dysfunction": False, "saddle_anaesthesia": False}),
        ("PF 4/5 bilat. AJs absent bilat.", {"reflex_loss": True}),
        # shorthand for a leak: "HA" for headache; a watery drip from the scar
        (
            "x3 days clear watery drip from bottom of scar. Pounding HA whenever upright, eases lying down.",
            {"clear_fluid_from_wound": True, "positional_headache": True},
        ),
        (
            "MRI: 14 mm mass in the right lateral recess at L4/5, ?foreign body reaction to haemostatic.",
            {"imaging_mass_at_operated_level": True},
        ),
        # retention measured, then resolved later in the same long sentence; a calf that "swelled up"
        (
            "Bladder scan 600 ml - catheterised overnight, TWOC successful and voiding normally since.",
            {"bladder_dysfunction": False},
        ),
        (
            "Since friday my LEFT calf has swelled up, its tight and hot.",
            {"calf_swelling_or_tenderness": True},
        ),
        # "..., for eight months before the operation, a left foot drop": the weakness predates surgery
        (
            "Before surgery he had three years of claudication and, for the last eight months before the "
            "operation, a left foot drop. On examination ankle dorsiflexion is 3/5 on the left.",
            {"preop_motor_deficit": True, "leg_weakness": True},
        ),
        ("Then gradual return of R S1-distribution leg pain.", {"dermatomal_distribution": True}),
        (
            "Strained to pass a small amount of urine at 16:00, none since, bladder feels full.",
            {"bladder_dysfunction": True},
        ),
        # old stress incontinence "dating from her second delivery"; retention on the first night, weeing
        # normally since the catheter came out; a warning "to report immediately if any urine retention"
        (
            "She has long-standing mild stress incontinence dating from her second delivery, unchanged "
            "for many years, and no new bladder or bowel symptoms.",
            {"bladder_dysfunction": False},
        ),
        (
            "I couldn't wee on the first night and they put a catheter in, but since it came out on Saturday "
            "I've been weeing normally.",
            {"bladder_dysfunction": False},
        ),
        ("Explained to report immediately if any urine retention.", {}),
        # a fever told by a rigour or a reading taken at home; weakness "weaker now than when he arrived"
        ("On saturday he had a shaking rigour lasting twenty minutes.", {"fever": True}),
        ("Night sweats; wife took his temp Tue night - 38.3. T 37.8 today.", {"fever": True}),
        ("He says his legs are weaker now than when he arrived.", {"progressive_weakness": True}),
        # a headache eased by a posture is a leak's sign, not neurogenic claudication
        ("Headache worse on sitting or standing, eases lying flat.", {"positional_headache": True}),
        ("Leg pain on walking, eased by sitting.", {"neurogenic_claudication": True}),
        # a grade held back by pain is not weakness; a hip's rotation "w/ reproduction of groin pain"; "N/T"
        ("MMT 5/5 B/L LE except R hip abd 4/5 (pain-limited).", {}),
        (
            "Hip PROM: R IR 10 deg w/ reproduction of groin pain, L IR 35 deg pain-free.",
            {"hip_rotation_painful": True},
        ),
        ("Denies N/T.", {"numbness": False, "paraesthesia": False}),
        # "not enhancing" describes the mass, it does not negate what follows
        (
            "MRI: 1.5 cm mass in the lateral recess, not enhancing, unlike disc or scar.",
            {"imaging_mass_at_operated_level": True},
        ),
        # a medicine "NOT stopped" is still taken; what coughing "sends down" the leg
        ("Aspirin 75 OD NOT stopped pre-op (per drug chart), given this AM.", {"anticoagulated": True}),
        ("Coughing sends it down the thigh.", {"pain_worse_with_cough_or_sneeze": True}),
        # "non" negates the next word only
        (
            "MRI: a non enhancing sequestered fragment of disc at the operated level.",
            {"mri_disc_at_operated_level": True},
        ),
    ],
)
def test_negation_lists_and_abbreviations(text: str, expected: dict[str, bool]) -> None:
    got = findings(text)
    for fid, value in expected.items():
        assert got.get(fid) is value, (fid, got)
    if not expected:
        assert got == {}


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("Saddle sensation intact to PP.", "dermatomal_sensory_loss"),
        ("O: R EHL 4/5, ankle DF 4+/5, rest 5/5.", "foot_drop"),
        ("Can wiggle L toes but says leg feels weaker than R.", "progressive_weakness"),
        ("Electric blanket at night helps.", "neuropathic_pain_quality"),
        (
            "No problems with my waterworks or my back passage and no numbness down below.",
            "saddle_anaesthesia",
        ),
        ("Headache worse on sitting or standing, eases lying flat.", "neurogenic_claudication"),
        ("MMT 5/5 B/L LE except R hip abd 4/5 (pain-limited).", "leg_weakness"),
    ],
)
def test_words_that_name_another_thing(text: str, absent: str) -> None:
    assert absent not in findings(text) or findings(text)[absent] is False


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("No red flags. Neuro: normal.", ["saddle_anaesthesia", "bladder_dysfunction", "leg_weakness"]),
        (
            "?cauda equina. r/o DVT. possible wound infection.",
            ["saddle_anaesthesia", "calf_swelling_or_tenderness"],
        ),
        ("What if I get weakness later, should I come in?", ["leg_weakness"]),
        (
            "FH of DVT (mother). If he develops calf swelling he will attend ED.",
            ["calf_swelling_or_tenderness"],
        ),
        ("Woke from anaesthesia with severe new right leg pain.", ["saddle_anaesthesia"]),
        ("Voiding via catheter (placed in theatre).", ["bladder_dysfunction"]),
        ("Sensation reduced R L5 dermatome.", ["dermatomal_distribution"]),
        ("A/P: PAD likely. Vascular referral.", ["peripheral_arterial_disease_history"]),
        # text the record copied from an earlier note describes that time, not now
        (
            "[Copied forward from 2-week review 12/08/2026: 'Walking 400 m. No back pain.']\n"
            "Back pain on standing.",
            ["severe_back_pain_at_rest"],
        ),
        (
            "Copied forward from pre-assessment: 'Bilateral neurogenic claudication for 4 years.'\n"
            "POD 1: comfortable.",
            ["neurogenic_claudication"],
        ),
        # a test requested to look for something is not its result
        (
            "I have requested a CT to look for an occult spinous process fracture.",
            ["xray_spinous_process_fracture"],
        ),
        # a scan's "post-op changes" name the index operation, not an earlier one
        (
            "L4-5 microdiscectomy 11/2025. MRI 01/20/2026: post-op changes L L4-5 hemilaminotomy, no "
            "recurrent disc.",
            ["previous_spine_surgery"],
        ),
        # an unticked box offers the option without choosing it
        (
            "Symptoms: [x] numbness  [ ] weakness  [ ] calf swelling",
            ["leg_weakness", "calf_swelling_or_tenderness"],
        ),
        ("Symptoms: ☐ weakness ☐ fever", ["leg_weakness", "fever"]),
    ],
)
def test_nothing_from_blankets_hypotheticals_and_others(text: str, absent: list[str]) -> None:
    got = findings(text)
    for fid in absent:
        assert fid not in got, (fid, got)


# ---------------------------------------------------------------------------- imaging


def test_contrast_wording_does_not_negate_and_titles_name_the_modality() -> None:
    got = findings(
        "MRI L-spine with and without contrast (29/09/2026): enhancing epidural fibrosis surrounding the "
        "left "
        "S1 nerve root; no recurrent disc."
    )
    assert got["mri_enhancing_scar"] is True and got["mri_disc_at_operated_level"] is False
    report = findings(
        "MRI LUMBAR SPINE WITH AND WITHOUT GADOLINIUM\nFindings: At L4/5 a non-enhancing extrusion "
        "compresses "
        "the L5 root, consistent with recurrent disc herniation. No epidural collection."
    )
    assert report["mri_disc_at_operated_level"] is True and report["mri_epidural_collection"] is False
    assert "mri_epidural_collection" not in findings("Findings: no epidural collection.")


# ---------------------------------------------------------------------------- operation and timeline


@pytest.mark.parametrize(
    ("text", "note_date", "expected"),
    [
        ("61 yo F s/p L4-5 TLIF 6 wks ago c/o worsening LLE pain x 4 days.", None,
         {"days_since_surgery": 42, "side": "left", "onset_days": 38, "trend": "worsening"}),
        ("Spine Clinic 09/14/2026. s/p L3-L5 laminectomy 04/20/2026.", None, {"days_since_surgery": 147}),
        ("Spinal clinic 21.07.2026. L4/5 laminectomy 14.01.2026.", None, {"days_since_surgery": 188}),
        # dates that fit both orders follow the note: a US note (y/o, °F) writes the month first
        (
            "SPINE CLINIC 04/07/2026. 70 y/o F. L4-S1 fusion on 03/02/2024. T 98.6 F.",
            None,
            {"days_since_surgery": 766},
        ),
        ("ED 11/09/2026. 48F. ALIF L5/S1 04/09/2026.", None, {"days_since_surgery": 7}),
        ("Clinic 04/07/2026. GP letter. Fusion on 03/02/2024.", None, {"days_since_surgery": 882}),
        # a clock time with "since" is today's; weeks "from" are counted from the operation
        (
            "POD 1 ALIF L5/S1. Pt: severe pain L calf + foot since ~05:00.",
            None,
            {"days_since_surgery": 1, "onset_days": 1, "onset_speed": "sudden"},
        ),
        (
            "Microdiscectomy 28/08/2025. Leg pain settled for the first month. "
            "From about 6 weeks she noticed a gradual return of pain.",
            "2026-01-22",
            {"onset_days": 42, "onset_speed": "gradual"},
        ),
        (
            "Fusion 3 weeks ago. Since Sunday my LEFT calf has been swollen. It came on really fast.",
            "2026-03-19",
            {"onset_speed": "sudden"},
        ),
        # a denied operation is not the one done; lay and clipped operation names
        (
            "Bilateral laminectomy L4/5 with partial facetectomies, no fusion, no implants.",
            None,
            {"procedure": "laminectomy", "instrumented": None},
        ),
        (
            "Physio - 3/52 post L L5/S1 microD (open).",
            None,
            {"procedure": "discectomy", "days_since_surgery": 21},
        ),
        ("66M, L2-L4 lami (open) 16/7 ago.", None, {"procedure": "laminectomy", "days_since_surgery": 16}),
        ("You did her keyhole disc op on the right side.", None, {"procedure": "discectomy"}),
        # the operation named on a diagnosis line is still the operation done
        (
            "Dx: POD 1 s/p open L4-L5 and L5-S1 TLIF w/ posterior pedicle screw instrumentation.",
            None,
            {"procedure": "fusion", "days_since_surgery": 1},
        ),
        # "3 days of back pain" is a symptom's length; the POD is the time since surgery
        (
            "s/p R L4-5 microdiscectomy, now POD 12, presents w/ 3 days of worsening back pain.",
            None,
            {"days_since_surgery": 12},
        ),
        ("ED Note, Oct 19 2026. s/p L2-3 laminectomy on Sept 28 2026.", None, {"days_since_surgery": 21}),
        ("Pt is a 44 yo M, 10 wks s/p R L4-L5 microdiscectomy.", None, {"days_since_surgery": 70}),
        ("I'm 6 weeks out from my L5-S1 fusion.", None, {"days_since_surgery": 42}),
        ("Bed 12, L4/5 decompression yesterday.", None, {"days_since_surgery": 1}),
        ("Progress Note. POD#2 s/p L4-5 MIS TLIF.", None, {"days_since_surgery": 2}),
        ("Seen eighteen months after her L4-S1 instrumented fusion.", None, {"days_since_surgery": 548}),
        ("Her dad had a decompression at L3-4 on the 2nd of this month.", "2026-06-09",
         {"days_since_surgery": 7}),
        ("L5-S1 microdiscectomy 3 weeks ago. Started again sat morning when i bent down.", "2026-03-11",
         {"onset_days": 17}),
        ("L5 S1 discectomy 28/05/2026. Then on Sunday I sneezed and felt a pop.", "2026-07-15",
         {"levels": ["L5-S1"], "onset_days": 45}),
        # dates: the first line's date is the note's; dd-Mon-yyyy; "last March"; "on the 10th"; month and year
        ("INTERNAL MEDICINE H&P - 04/22/2026 19:30\nHPI: s/p L4-5 microdiscectomy 03/30/26. Leg pain 0/10 at "
         "2-wk post-op visit 04/13/26.", None, {"days_since_surgery": 23}),
        ("Consultation 14-Jan-2026 09:20. PSHx: R L4/5 microdiscectomy 03-Mar-2022 (Mr Hollis).", None,
         {"days_since_surgery": 1413}),
        ("Date: 20/11/2026\nHe had a left L5/S1 microdiscectomy with you last March.", None,
         {"days_since_surgery": 250}),
        ("Saturday 21/02/2026. I had my fusion on the Tuesday before last, the 10th.", None,
         {"days_since_surgery": 11}),
        ("Clinic 09/02/2026. Index operation: L4/5 PLIF (pedicle screws, PEEK cages), January 2021.", None,
         {"days_since_surgery": 1851}),
        ("Telephone follow-up, POD 9. Left L5/S1 microdiscectomy, discharged POD 1.", None,
         {"days_since_surgery": 9}),
        ("OUTPATIENT PT 04/14/2026\nDx (referral): R buttock pain s/p L4-S1 PLIF (03/26/2024, Dr. Greer).",
         None, {"procedure": "fusion", "days_since_surgery": 749}),
        # pain scores dated by a post-operative day, by a date just after them, or told now about the leg
        ("Left L5/S1 microdiscectomy, POD 9. Leg pain NRS 7/10 on day 1, 5/10 on day 4, 3/10 today.", None,
         {"pain_scores": [{"day": 1, "nrs": 7}, {"day": 4, "nrs": 5}, {"day": 9, "nrs": 3}]}),
        ("Clinic 11/18/2025. s/p L5-S1 microdiscectomy 06/10/2025. VAS leg 60 mm today (VAS 0 mm on "
         "07/22/25).",
         None, {"pain_scores": [{"day": 42, "nrs": 0}, {"day": 161, "nrs": 6}]}),
        ("L4/5 discectomy 6 weeks ago. Leg NRS 8/10. Pain 5/10 in the back.", None,
         {"pain_scores": [{"day": 42, "nrs": 8}]}),
        ("L4/5 discectomy 6 weeks ago. Leg pain was 8/10 at discharge.", None, {"pain_scores": None}),
        # a weekday or day of the month for the operation (messages dated by note_date); "L3 to L5"
        ("He had his laminectomy (the surgeon said L3 to L5) with Mr Bhatt on Tuesday.", "2026-03-12",
         {"days_since_surgery": 2, "levels": ["L3-L4", "L4-L5"]}),
        ("Hi its Gary, had my TLIF (L4/5, screws) on Fri 5th.", "2026-06-18", {"days_since_surgery": 13}),
        ("They did surgery on the disc at L5/S1.", None, {"procedure": "discectomy"}),
        # a pain-free spell told by its length dates the return; "no leg pain" in that spell is not now
        ("Seen 12/05/2026. L5/S1 microdiscectomy 17/02/2026. She was pain free for about three weeks. "
         "Since then the pain has gradually come back.", None, {"onset_days": 21}),
        ("I had the spacer put in at L3/4 on 2nd June. Was walking great for 3 weeks, no leg pain at all. "
         "Then I bent down and since that day both legs ache again.", "2026-07-09",
         {"side": "both", "onset_days": 21}),
        # fixed-date holidays, and a date in the sentence that tells the pain starting
        ("Date: 29/01/2027. She had a left L4/5 microdiscectomy the day after Boxing Day. Her leg pain went "
         "completely. Since Sunday 17th January the left leg pain has come back.", None,
         {"days_since_surgery": 33, "onset_days": 21}),
        ("Clinic 16.02.2026. Right L4/5 TLIF 04.08.2025. The leg pain began to creep back around Bonfire "
         "Night.", None, {"onset_days": 93}),
        # compound durations; a side in a clause calling its complaint old is not the leg pain's side
        ("L5/S1 microdiscectomy 101 days ago. Pain returned 4 weeks and 2 days ago.", None,
         {"onset_days": 71}),
        ("TLIF 1 year 3 months ago.", None, {"days_since_surgery": 456}),
        ("Microdiscectomy 6 weeks ago. Left knee pain for years but the new pain is in the right leg.", None,
         {"side": "right"}),
        # operations told in lay words; a time compared with is not when the pain began
        ("I had my second operation on my left L4-5 disc on the 1st of October.", "2026-10-14",
         {"procedure": "discectomy", "levels": ["L4-L5"], "days_since_surgery": 13}),
        ("I had my operation to free the nerves at L4-5 on the 16th of March.", "2026-10-14",
         {"procedure": "laminectomy", "days_since_surgery": 212}),
        ("They removed part of the slipped disc 3 weeks ago.", None, {"procedure": "discectomy"}),
        ("Discectomy 3 weeks ago. My toe is a bit stronger than last week.", None, {"onset_days": None}),
        # the operation's date, not the discharge's; a day and month after "on"; "D1 post", "D+9"
        ("Discharged 19/02/2026 after L4/5 PLIF (pedicle screws and cages) on 16/02/2026.", "2026-02-27",
         {"days_since_surgery": 11}),
        ("Had my microdiscectomy L5 S1 on 12/3 and the wound was checked on 19/3.", "2026-05-20",
         {"days_since_surgery": 69}),
        ("72F, D1 post open L2-5 laminectomy.", None, {"days_since_surgery": 1}),
        # a note of dated entries is as of its latest entry; a weekday written with a date picks its reading
        ("GP record\nHospital letter (filed 02/09/2025): R L5/S1 microdiscectomy 28/08/2025.\n"
         "10/09/2025 (nurse): wound red.\n21/01/2026: MRI reviewed.", None, {"days_since_surgery": 146}),
        ("16/06/2026: L4/5 open TLIF.\n17/06 21:40 (F1): new R leg pain.\n18/06 00:50 (F1): R DF now 2/5.",
         None, {"days_since_surgery": 2}),
        ("Sun 07/06 20:14\nI had my endoscopic discectomy on Tuesday 02/06.\nWed 10/06 19:30\nStill sore.",
         "2026-06-10", {"days_since_surgery": 8}),
        ("I had my microdiscectomy (L4-L5) on Monday 05/04.", "2026-05-09", {"days_since_surgery": 5}),
        ("D+9 after TLIF.", None, {"days_since_surgery": 9}),
        # relief told in the sentence after the operation's
        ("We did a left L4-L5 microdiscectomy on 2025-09-15. Unfortunately the pain in the left leg was "
         "never relieved.", "2026-01-27", {"relief_after_surgery": "none"}),
        # an operation dated by how long ago it was is not dated by a later mention; "done" on a Dx line
        ("Clinic 12/05/2026. Had L4/L5 PLIF 6 years ago (2020). MRI (28/04/2026): stenosis above the fusion.",
         None, {"days_since_surgery": 2190}),
        ("Review, 07/04/2026.\nDx: L L5/S1 microdiscectomy done 09/12/2025.", None,
         {"procedure": "discectomy", "days_since_surgery": 119}),
        # how long a symptom has lasted, written straight after it; a week of the recovery; "same as pre-op"
        ("TLIF 22 months ago. R buttock + post thigh pain ~8/12, gradual onset.", None, {"onset_days": 426}),
        ("Discectomy 20 days ago. L ant thigh pain back ~5/7, had been fully gone post op.", None,
         {"onset_days": 15}),
        ("Microdiscectomy 2025-10-07. Excellent relief. Then gradual recurrence L leg pain from ~wk 8, "
         "burning, same as pre-op.", "2026-03-03", {"onset_days": 56}),
        ("Laminectomy 09/03/2026. POD 1: leg pain much reduced.", "2026-03-13",
         {"relief_after_surgery": "partial"}),
        # what coughing does is not the pain's course
        ("Discectomy 5 months ago. Leg pain slowly worse since. Cough/sneeze/Valsalva: no change.", None,
         {"trend": "worsening"}),
        # a fusion without implants
        (
            "Operation: L4/5 and L5/S1 decompression with NON-instrumented posterolateral (intertransverse) "
            "fusion.",
            None,
            {"procedure": "fusion"},
        ),
        # a form's labelled operation date and post-operative day; "DOS" is the operation's only where dates
        # are written day first (a US "DOS" is the date of service)
        (
            "Clinic date: 18/09/2026\nProcedure: Right L5-S1 hemilaminotomy\nDate of surgery: 17/07/2026\n",
            None,
            {"days_since_surgery": 63},
        ),
        ("Laminectomy. Post-op day: 63", None, {"days_since_surgery": 63}),
        # a span counted back from the note ("over the 12 days since"), not from the operation
        (
            "R L5/S1 microdiscectomy 99 days ago, pain fully relieved. The leg pain has worsened steadily "
            "over the 12 days since.",
            None,
            {"days_since_surgery": 99, "onset_days": 87},
        ),
        # a referral's own date, not a review's date inside it
        (
            "Re: Mrs D, 70 - referral dated 18 November 2026\nWide L4/5 laminectomy on 19 March 2025. At her "
            "one-year review on 25 March 2026 she scored her leg pain 0/10.",
            None,
            {"days_since_surgery": 609},
        ),
        ("Seen 18/06/2026 by the GP. L3/4 laminectomy | DOS: 10/06/2026", None, {"days_since_surgery": 8}),
        (
            "ORTHO CLINIC\nDOS: 04/27/2026\nPt: 71 y/o M. L4-5 laminectomy 03/02/2026.",
            None,
            {"days_since_surgery": 56},
        ),
        # the leg pain dated by the event told in the sentence before ("...; since then"); "woke Sun AM with"
        (
            "Spinal clinic 12/03/2026. L4-S1 fusion 01/08/2019, leg pain gone after it. Six weeks ago he "
            "twisted getting out of his car and felt a sharp twinge in his back; since then L) anterior "
            "thigh pain, came on over a day or so and has steadily got worse.",
            None,
            {"onset_days": 2373, "onset_speed": "sudden", "trend": "worsening"},
        ),
        (
            "SBAR 03:10 17/06/2026. 41M, 5/52 post L5/S1 microdiscectomy (13/05/2026). Sciatica fully "
            "resolved post-op. Woke Sun AM with severe pain both legs.",
            None,
            {"onset_days": 32},
        ),
        # "by that evening" dates the leg pain by the event before; a ward note's "From ~03:00" is today
        (
            "18-May-2026. Right L4/5 microdiscectomy on 09-Feb-2023. Ten days ago she was lifting bags "
            "of compost and felt a twinge in her low back; by that evening she had sharp pain from her "
            "LEFT buttock to the foot. It has not eased at all over the ten days.",
            None,
            {"onset_days": 1184, "trend": "stable"},
        ),
        (
            "SBAR 14/03/2026 06:50. POD 1 open L3-S1 laminectomy (13/03). Legs much better than pre-op. "
            "From ~03:00 ↑↑ pain both legs, now 9/10.",
            None,
            {"onset_days": 1, "trend": "worsening"},
        ),
        # how the pain came, told without a day it began; waking in recovery with it; a crack felt
        ("Laminectomy 2023. The leg pain came on gradually.", None, {"onset_speed": "gradual"}),
        (
            "POD 1 L4/5 microdiscectomy. Woke in recovery with NEW severe L leg pain down the outer shin.",
            None,
            {"onset_days": 0, "onset_speed": "sudden"},
        ),
        (
            "Discectomy 8 weeks ago. About five weeks ago I was getting out of the bath and I felt a crack "
            "in my back, and since then I've had pain down the right leg.",
            None,
            {"onset_days": 21, "onset_speed": "sudden"},
        ),
        # a month-only onset when the month is a small share of the time since; ward shorthand
        (
            "Letter 10/02/2026. L5/S1 discectomy 15/05/2023. From about mid-September he noticed a new pain "
            "running down the right calf.",
            None,
            {"onset_days": 854},
        ),
        ("Ward round 12/06/2026. POD6 L3-5 PLIF. c/o L) calf ache since yest AM.", None, {"onset_days": 5}),
        ("SBAR 14/03/2026. POD 1 L4/5 laminectomy. Woke 04:00 with pain both legs.", None, {"onset_days": 1}),
        ("Physio 20/07/2026. TLIF 01/05/2026.\nOnset: 3 weeks ago | Course: Worse", None, {"onset_days": 59}),
        # scores in a note of dated entries take their entry's day; a review named by its time
        (
            "L4/5 microdiscectomy 12/05/2026.\n\nSession 1 - 26/05/2026 (2/52)\nS: L leg NRS 5/10.\n\n"
            "Session 2 - 09/06/2026 (4/52)\nS: Leg NRS 3/10. Burning now only after long sitting.\n\n"
            "Session 3 - 23/06/2026 (6/52)\nS: Leg NRS 2/10, a little better each week.",
            None,
            {"pain_scores": [{"day": 14, "nrs": 5}, {"day": 28, "nrs": 3}, {"day": 42, "nrs": 2}]},
        ),
        (
            "Clinic 20/11/2026. L5/S1 microdiscectomy 01/05/2026. At her six-week check she rated the leg "
            "1/10. It is 5/10 today.",
            None,
            {"pain_scores": [{"day": 42, "nrs": 1}, {"day": 203, "nrs": 5}]},
        ),
        # a pain diary as a list under a header giving the scale; "7 out of 10 every day since" is today's
        (
            "Note 12/10/2026. I had my microdiscectomy on the 4th of August. My pain diary (right leg, "
            "out of 10):\n- day before the op: 8\n- 1 week after: 2\n- 4 weeks: 0, back at work\nThen last "
            "Tuesday I sneezed and it came back. It's been 7 out of 10 every day since.",
            None,
            {
                "pain_scores": [
                    {"day": -1, "nrs": 8},
                    {"day": 7, "nrs": 2},
                    {"day": 28, "nrs": 0},
                    {"day": 69, "nrs": 7},
                ]
            },
        ),
        # a score "at the ten-day wound review"; a pain that "crept back" is not a back-pain score
        (
            "Discectomy 10 weeks ago. He scored it 0/10 at the ten-day wound review. From three weeks the "
            "pain crept back down the shin, and it is 7/10 today. Back pain 4/10.",
            "2026-03-01",
            {"pain_scores": [{"day": 10, "nrs": 0}, {"day": 70, "nrs": 7}]},
        ),
        # a date just before a score that names the pain; "8/10 since;" is today's; not a block's "7 to 1"
        (
            "Letter 20/02/2026. L4/5 discectomy 04/11/2022. He attended the ED on 28/01/2026 (leg pain "
            "8/10). Burning down the L calf, 8/10 since; can't straighten up. Block (12/01/2026): 7 to 1.",
            None,
            {"pain_scores": [{"day": 1181, "nrs": 8}, {"day": 1204, "nrs": 8}]},
        ),
        # a time after the operation leading a score in its sentence; not a return "at 3 weeks" now scored
        (
            "L4/5 discectomy on 01/01/2026. The operation gave her complete relief: at her wound check two "
            "weeks later she scored it 1/10. Six weeks after surgery the leg pain was 2/10. At eight weeks "
            "she rated it 0/10. The pain returned at 10 weeks and is now 7/10.",
            "2026-03-20",
            {"pain_scores": [{"day": 14, "nrs": 1}, {"day": 42, "nrs": 2}, {"day": 56, "nrs": 0},
                             {"day": 78, "nrs": 7}]},
        ),
        # numbered chronology entries date their scores; a heading ending with its date starts a new one
        (
            "1.4 05/09/2022: L5/S1 ALIF.\n1.3 22/08/2022: pre-operative assessment: left leg pain 8/10.\n"
            "1.9 20/11/2024: CT lumbar spine.\n\n2. Present complaints (15/01/2025)\n"
            "He rated the leg pain 7/10 at interview.",
            "2025-01-15",
            {"pain_scores": [{"day": -14, "nrs": 8}, {"day": 863, "nrs": 7}]},
        ),
        # a call log's entries "Call 1, 11/09/2026 (...)"; a heading's clinic date over a timeline's entries
        (
            "L4/5 TLIF, Tue 01/09/2026.\n\nCall 1, 11/09/2026 (day-10 call): leg pain 0/10.\n\n"
            "Call 2, 25/09/2026 (pt-initiated): leg pain back, 6/10 today.",
            None,
            {"days_since_surgery": 24},
        ),
        (
            "Clinic date: Wednesday 2 December 2026\nOperation: L4/5 microdiscectomy, 2 September 2026.\n"
            "Timeline:\n- 9 September 2026 (phone call): 3/10.\n- 14 October 2026 (review): 5/10.\n"
            "- Today: 7/10.",
            None,
            {"days_since_surgery": 91},
        ),
        # a UK "spinal ambulatory unit" is not a US chart's "ambulating"; "call 999" writes dates day first
        (
            "Telephone note 12/11/2025. Op: R L4/5 laminotomy, 03/11/2025. Booked into the spinal ambulatory "
            "unit today. Advised to call 999 if he becomes drowsy.",
            None,
            {"days_since_surgery": 9},
        ),
        # a weekday written with its date: the date says when ("on Thursday 19 February")
        ("I had the fusion on Thursday 19 February. Calf aches.", "2026-03-09", {"days_since_surgery": 18}),
        # of several dated operations, the latest is the index one
        (
            "Letter date: 10 February 2026. His spinal history: L5/S1 discectomy in 2011; revision L5/S1 "
            "discectomy in 2013; then an L4-S1 PLIF on 12/06/2019, complicated by a dural tear.",
            None,
            {"procedure": "fusion", "days_since_surgery": 2435, "levels": ["L4-L5", "L5-S1"]},
        ),
        # a letter's "who you will recall had ..." tells the operation; a score "when I listed him" is pre-op
        (
            "Clinic 22/10/2026. Dear Dr Ross, I saw Tomasz who you will recall had a right L5/S1 "
            "microdiscectomy on 10/02/2026. He scores the leg pain at 5/10 today and it was 9/10 when I "
            "listed him for surgery.",
            None,
            {"procedure": "discectomy", "days_since_surgery": 254, "pain_scores": [{"day": 254, "nrs": 5}]},
        ),
        # the option ticked on a form, the unticked ones blanked
        (
            "L5-S1 laminectomy 17/07/2026. Seen 18/09/2026.\n"
            "Relief after surgery: [ ] None  [ ] Partial  [X] Complete",
            None,
            {"relief_after_surgery": "complete"},
        ),
    ],
)  # fmt: skip
def test_operation_and_timeline(text: str, note_date: str | None, expected: dict[str, Any]) -> None:
    got = case(text, note_date)
    flat = {**got, **got.get("leg_pain", {}), **got.get("surgery", {})}
    for key, value in expected.items():
        assert flat.get(key) == value, (key, got)


@pytest.mark.parametrize(
    ("text", "relief"),
    [
        ("Sciatica gone post-op.", "complete"),
        ("Pre-op L sciatica gone ✓.", "complete"),
        ("Pre-op sx were R-sided only, resolved post-op.", "complete"),
        ("Well for 2 weeks after op, leg pains gone.", "complete"),
        ("Initially leg pain ↓ ~50%.", "partial"),
        ("Pre-op bilat thigh pain ↓↓ - now occ. mild L ant thigh ache.", "partial"),
        ("Leg pain initially improved post op, though not completely.", "partial"),
        ("Initially his leg symptoms settled well after the operation.", "complete"),
        ("My left leg is great, no pain at all since surgery.", "complete"),
        ("His right leg pain never really got better after the operation.", "none"),
        ("L5/S1 microdiscectomy with complete resolution of her sciatica.", "complete"),
        ("The discectomy relieved his calf pain only partially.", "partial"),
        ("it was totaly gone after the op.", "complete"),
        ("Microdiscectomy. R leg pain (the indication) gone since surgery.", "complete"),
        ("Discectomy. The right leg sciatica vanished after surgery, 100%.", "complete"),
        ("PLIF. His pre-op right leg pain improved only partially after the fusion.", "partial"),
        ("Discectomy 3 weeks ago. L leg pain massively better.", "partial"),
        ("Microdiscectomy. Pre-op bilateral buttock/thigh pain - resolved since op per pt.", "complete"),
        ("Laminectomy. Leg pain (bilateral pre-op) 'mostly gone' since the op.", "partial"),
        ("PLIF 2020. His leg pain was not improved by the 2020 operation.", "none"),
        ("Fusion. Her pre-operative bilateral leg pain improved by about half after the fusion.", "partial"),
        # scores before and after the operation
        ("Discectomy 2 days ago. R leg pain 1/10 this AM; was 9/10 at his pre-op visit.", "partial"),
        ("Microdiscectomy. R leg pain 8/10 at pre-op clinic visit. Post op R leg pain 0/10.", "complete"),
        ("Discectomy. Leg pain 8/10 today, 8/10 before the operation.", "none"),
        # "not relieved by lying still" is about rest, not the operation
        (
            "Discectomy 12 days ago. Back pain not relieved by lying still; leg pain totally gone after op.",
            "complete",
        ),
        # colloquial and clipped tellings
        ("Fusion 3 weeks ago. The leg pain I had before was gone.", "complete"),
        ("Laminectomy 2024. History: the pre-op aching pain down the left shin has gone.", "complete"),
        ("Laminectomy 2024. Hx: excellent relief of bilat NC post-op.", "complete"),
        ("Microdiscectomy 6 weeks ago. The op worked a treat for my leg pain.", "complete"),
        ("Discectomy. R leg pain much eased by the op.", "partial"),
        ("Laminectomy. The pain in both thighs improved partly after the operation.", "partial"),
        (
            "Discectomy 3 weeks ago. R leg pain unchanged, 8/10, exactly the same as before the operation.",
            "none",
        ),
        ("Fusion. The right-leg sciatica I had for two years was gone the morning after the op.", "complete"),
        ("Discectomy 6 weeks ago. I'm concerned it has not helped her leg at all.", "none"),
        ("Discectomy. Sadly the operation has made no difference at all to her leg pain.", "none"),
        ("Discectomy. She woke with exactly the same pain down the leg.", "none"),
        ("Fusion on Monday. The pain down my left leg that I had the surgery for is gone.", "complete"),
    ],
)
def test_relief_phrasings(text: str, relief: str) -> None:
    assert case(text).get("leg_pain", {}).get("relief_after_surgery") == relief


def test_a_retained_fragment_is_residual_compression_by_disc_at_the_operated_level() -> None:
    got = findings("L5/S1 microdiscectomy 2 weeks ago. MRI shows a residual disc fragment compressing S1.")
    assert got["mri_residual_compression"] is True and got["mri_disc_at_operated_level"] is True
    none = findings("L5/S1 microdiscectomy 2 weeks ago. MRI: no retained fragment.")
    assert none["mri_residual_compression"] is False


def test_a_zero_score_in_the_first_months_is_complete_relief() -> None:
    text = (
        "Right L5/S1 microdiscectomy 21/05/2025. At her six-week review on 02/07/2025 she scored her leg "
        "pain 0/10. Around three months after surgery the pain crept back; she scored it 6/10 today."
    )
    assert case(text, "2026-02-18")["leg_pain"]["relief_after_surgery"] == "complete"
    late = "L5/S1 microdiscectomy 21/05/2024. Leg pain 0/10 at the one-year review on 21/05/2025; 6/10 today."
    assert "relief_after_surgery" not in case(late, "2026-02-18").get("leg_pain", {})


@pytest.mark.parametrize(
    ("text", "trend"),
    [
        ("Discectomy 6 weeks ago. Her leg pain has been exactly the same since.", "stable"),
        ("Laminectomy 2 years ago. Her leg symptoms have gradually and steadily come back.", "worsening"),
        ("Discectomy 3 weeks ago. Pain down both legs, worse today.", "worsening"),
        ("XLIF 12 days ago. The thigh pain is a bit better than it was in hospital.", "improving"),
        # easing on sitting is positional, not a course
        ("Laminectomy 2 years ago. Leg ache after 100 m, easing when she sits down.", None),
        # a course told by its step or pace
        ("Discectomy 3 weeks ago. The leg pain has improved a little every week since.", "improving"),
        (
            "Laminectomy 2024. Since Easter the leg pain has been creeping back, a bit more each week.",
            "worsening",
        ),
        ("Fusion 2019. Aching in both thighs on walking, which has gradually progressed.", "worsening"),
        ("Discectomy 5 weeks ago. Leg pain 7/10 today, a little worse each fortnight.", "worsening"),
        # a sentence about the complaint that does not name it; a template's course; shorthand
        (
            "Fusion 2022. Buttock and thigh pain on walking since spring. Worse again over the last month.",
            "worsening",
        ),
        ("Laminectomy 2025. Site: Calf | Side: Right | Course: Worsening", "worsening"),
        ("Laminectomy 2025. Calf ache on walking, and the distance keeps getting shorter.", "worsening"),
        ("Laminectomy 2024. L leg pain returned ~4/12 ago, slowly ↑.", "worsening"),
        ("TLIF 3 weeks ago. R leg pain 3/10 today, and a bit less each day.", "improving"),
        ("Laminectomy 2024. L>R leg pain down side of shins. No worse over past couple of months.", "stable"),
        (
            "Date: 20/11/2026. L5/S1 microdiscectomy last March. Three weeks ago he developed pain in "
            "the front of the right thigh, which has been no better and no worse since.",
            "stable",
        ),
    ],
)
def test_trend_phrasings(text: str, trend: str | None) -> None:
    assert case(text).get("leg_pain", {}).get("trend") == trend


def test_operation_details() -> None:
    assert (
        case("6 weeks out from my L5-S1 fusion (ALIF with screws in the back).")["surgery"]["route"]
        == "combined"
    )
    tubular = case("Pt: 35 yo F s/p L5-S1 microdiscectomy (MIS, tubular).")["surgery"]
    assert tubular["approach"] == "minimally_invasive"
    physio = case("S: 34M, 12/52 post R L4/5 microdisc.")
    assert physio["surgery"]["procedure"] == "discectomy" and physio["days_since_surgery"] == 84


def test_new_weakness_after_normal_preoperative_power() -> None:
    got = findings(
        "Overnight unable to lift R foot. DF 1/5 R, EHL 0/5 R. Pre-op power was full per clinic letter."
    )
    assert got["foot_drop"] is True and got["new_motor_deficit"] is True
    assert got["preop_motor_deficit"] is False
    strength = findings("Exam: Right EHL 4+/5, otherwise 5/5; she had full strength before her surgery.")
    assert strength["new_motor_deficit"] is True and strength["preop_motor_deficit"] is False
    assert findings("Exam: full strength throughout.")["leg_weakness"] is False


CHRONOLOGY = (
    "1.1 2016: right L5/S1 microdiscectomy with full recovery.\n"
    "1.4 05/09/2022: L5/S1 anterior lumbar interbody fusion with posterior percutaneous pedicle screws.\n"
    "1.5 Two weeks post-operatively: superficial wound infection."
)
LISTED = "History:\n- 2014: L4/5 discectomy.\n- 03/2019 - L4-5 revision discectomy and TLIF."
NAMED_INDEX = (
    "Surgical history: L4/5 decompression (bilateral laminotomy) in 2014, followed by recurrence. "
    "Index operation: L4-S1 instrumented posterolateral fusion with pedicle screws, 11/03/2019."
)
DYNESYS = (
    "Surgical history: L4-L5 dynamic stabilization (Dynesys: bilateral pedicle screws with flexible "
    "cord and spacers, no fusion), 08/19/2025."
)


@pytest.mark.parametrize(
    ("text", "note_date", "procedure", "days"),
    [
        (CHRONOLOGY, "2025-01-15", "fusion", 863),  # a chronology's dated lines: the latest operation
        (LISTED, None, "fusion", None),
        (NAMED_INDEX, "2025-06-24", "fusion", 2297),  # the note names the index operation
        (DYNESYS, None, "other", None),  # a dynamic stabilisation is instrumented, not a fusion
    ],
)
def test_which_operation_is_the_index_one(
    text: str, note_date: str | None, procedure: str, days: int | None
) -> None:
    got = case(text, note_date)
    assert got["surgery"]["procedure"] == procedure, got
    if days is not None:
        assert got["days_since_surgery"] == days, got


RETENTION_SETTLED = (
    "Post-op course: urinary retention after catheter removal on day 1, re-catheterised; "
    "successful trial without catheter on day 2, voiding normally at discharge."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # over by the end of the story, or a clause a semicolon joins to it
        (RETENTION_SETTLED, {"bladder_dysfunction": False}),
        (
            "Transient urinary retention after Foley removal on POD 1, voiding spontaneously since.",
            {"bladder_dysfunction": False},
        ),
        (
            "A superficial wound dehiscence at three weeks healed with dressings by six weeks.",
            {"wound_problem": False},
        ),
        # the same words about before do not make a problem go away
        (
            "New urinary retention since this morning; previously voiding normally.",
            {"bladder_dysfunction": True},
        ),
        ("Urinary retention tonight; he was voiding normally before.", {"bladder_dysfunction": True}),
        ("Wound discharging pus, had healed last week.", {"wound_problem": True}),
        # not asked is not known either way
        (
            "Not passed urine since 22:00. Not asked re bowels yet.",
            {"bladder_dysfunction": True, "bowel_dysfunction": None},
        ),
        ("Not asked about saddle numbness.", {"saddle_anaesthesia": None}),
        (
            "Denies saddle numbness, not asked about bladder.",
            {"saddle_anaesthesia": False, "bladder_dysfunction": None},
        ),
    ],
)
def test_problems_that_resolved_and_questions_not_asked(text: str, expected: dict[str, bool | None]) -> None:
    got = findings(text)
    for fid, value in expected.items():
        assert got.get(fid) is value, (fid, got)


def test_root_blocks_at_the_operated_and_at_another_level() -> None:
    """A diagnostic root block's level, told by the levels it names against the operation's."""
    got = findings(
        "Operation: right L4/5 microdiscectomy, 08/10/2025. A right L4/5 transforaminal injection in "
        "December gave him no relief at all. A selective right L5 root block at the L5/S1 foramen "
        "on 05/02/2026 abolished his leg pain for about six hours."
    )
    assert got["root_block_relief_operated_level"] is False
    assert got["root_block_relief_other_level"] is True


def test_weakness_after_normal_power_earlier_the_same_day_is_progressive() -> None:
    """Normal power at the evening's neurological observations and weakness now: a deficit evolving by the
    hour (a haematoma's sign); normal power on an earlier day is a new deficit, not yet a progressive one."""
    got = findings(
        "POD1 open L3-5 laminectomy. 18:30 nursing neuro obs: 5/5 throughout, moving legs well. "
        "Since ~20:30 legs heavy. Now hip flex 3/5 bilat, DF R) 2/5 L) 1/5."
    )
    assert got["new_motor_deficit"] is True and got["progressive_weakness"] is True
    earlier_day = findings(
        "POD 2 XLIF. Was mobilising independently on POD 1 with normal leg power. O/E: L hip flexion 2/5."
    )
    assert earlier_day.get("progressive_weakness") is not True


# ---------------------------------------------------------------------------- typos


def test_typos_are_corrected_and_evidence_points_at_the_note() -> None:
    text = "hi doc its been 3 wks since my back op (L5-S1 microdiscetomy) and my rigth leg hurts again."
    reading = read_note(text)
    assert reading.case["surgery"]["procedure"] == "discectomy"
    assert reading.case["leg_pain"]["side"] == "right"
    for ev in reading.evidence:
        assert text[ev["start"] : ev["end"]] == ev["text"]
    procedure = next(e for e in reading.evidence if e["field"] == "surgery.procedure")
    assert procedure["text"] == "microdiscetomy"


def test_dictated_notes_are_read_as_typed_and_evidence_points_at_the_dictation() -> None:
    text = (
        "Patient seventy eight year old lady comma BMI nineteen comma L3 four and L4 five lamin ectomy "
        "on the seventh of January 2026 full stop new paragraph O colon left ankle dorsi flexion two out of "
        "five full stop"
    )
    reading = read_note(text, "2026-02-04")
    assert reading.case["age"] == 78
    assert reading.case["surgery"]["procedure"] == "laminectomy"
    assert reading.case["surgery"]["levels"] == ["L3-L4", "L4-L5"]
    assert reading.case["days_since_surgery"] == 28
    assert reading.case["findings"]["foot_drop"] is True
    assert reading.case["findings"]["obesity"] is False
    for ev in reading.evidence:
        assert text[ev["start"] : ev["end"]] == ev["text"]
    assert {e["text"] for e in reading.evidence} >= {"seventy eight", "lamin ectomy", "L4 five"}
    spoken = case("Clinic date 18 06 2026. Operation left L five S one micro disc ectomy 12 01 2026.")
    assert spoken["days_since_surgery"] == 157 and spoken["surgery"]["levels"] == ["L5-S1"]
    # a typed note keeps its words: "one of", "a comma-shaped scar" are not dictation
    typed = case("One of the nurses saw a comma-shaped scar. Discectomy 6 weeks ago, seven out of ten pain.")
    assert typed["days_since_surgery"] == 42


def test_unpunctuated_dictation_is_read_clause_by_clause() -> None:
    """Speech recognition with no punctuation at all: a "no" early on must not negate the rest of the note,
    and spoken numbers and levels are read as in a dictation that says its punctuation."""
    text = (
        "two week post op review this is a forty four year old female who underwent a right L5 as one "
        "micro discectomy on the fifth of January the leg pain has not improved at all she rates it at "
        "eight out of ten today which is the same as the eight out of ten she gave on the morning of surgery "
        "there is no saddle and aesthesia and she is passing water normally the wound has healed with no "
        "redness on examination "
        "straight leg raised on the right is positive at thirty degrees the right ankle jerk is absent "
        "sensation is reduced along the lateral border of the right foot"
    )
    reading = read_note(text, "2026-01-20")
    for ev in reading.evidence:  # rewritten words still point at what was dictated
        assert text[ev["start"] : ev["end"]] == ev["text"]
    got = reading.case
    assert got["age"] == 44 and got["sex"] == "female"
    assert got["surgery"]["levels"] == ["L5-S1"]
    assert got["pain_scores"] == [{"day": 0, "nrs": 8}, {"day": 15, "nrs": 8}]
    f = got["findings"]
    assert f["saddle_anaesthesia"] is False and f["bladder_dysfunction"] is False
    assert f["slr_positive"] is True and f["reflex_loss"] is True and f["dermatomal_sensory_loss"] is True
    # a clause may open with the side ("... not reproduce his calf pain the write ankle reflex is absent")
    run_on = findings(
        "on examination straight leg raising is seventy degrees on the right with some hamstring "
        "tightness but does not reproduce his calf pain the write ankle reflex is absent as it was before "
        "surgery power is normal throughout the wound is fine and he has no bladder symptoms and he is "
        "working full time now"
    )
    assert run_on["reflex_loss"] is True and run_on["leg_weakness"] is False
    # a typed note keeps its sentences; a grid's "L4    5    5" is not a level
    assert case("Left L4 5 micro discectomy 3 weeks ago. No leg pain.")["surgery"]["levels"] == ["L4-L5"]
    grid = case("L4/5 discectomy 3 weeks ago.\nMyotome R L\n  L4    5    5\n  L5    5    5\n")
    assert grid["surgery"]["levels"] == ["L4-L5"]


def test_offset_map() -> None:
    fix = Corrector(["the", "pain"], ["microdiscectomy", "totally", "right"], {"right": 10})
    text = "my microdiscetomy was totaly fine, rigth? Tinel ok"
    corrected, offsets = fix(text)
    assert corrected == "my microdiscectomy was totally fine, right? Tinel ok"
    assert isinstance(offsets, OffsetMap)
    start = corrected.index("fine")
    assert text[offsets.start(start) : offsets.end(start + 4)] == "fine"
    word = corrected.index("microdiscectomy")
    assert text[offsets.start(word) : offsets.end(word + len("microdiscectomy"))] == "microdiscetomy"
    assert offsets.start(0) == 0 and offsets.end(len(corrected)) == len(text)
    assert fix("nothing to fix here") == ("nothing to fix here", None)


# ---------------------------------------------------------------------------- the lean medspaCy drivers


def test_fast_context_and_sections_match_medspacy() -> None:
    from rootcause.adapters.notes.pipeline import build_pipeline
    from rootcause.adapters.notes.reader import read_note as read_with

    medspacy_calls = build_pipeline(fast=False)
    texts = [
        (
            json.loads(p.read_text(encoding="utf-8"))["text"],
            json.loads(p.read_text(encoding="utf-8")).get("note_date"),
        )
        for folder in ("notes", "notes_extra", "notes_heldout")
        for p in sorted((DATA / folder).glob("*.json"))
    ]
    for text, note_date in texts:
        fast, reference = read_with(text, note_date), read_with(text, note_date, pipeline=medspacy_calls)
        assert fast.to_dict() == reference.to_dict(), text[:60]
