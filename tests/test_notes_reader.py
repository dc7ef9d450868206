"""The note reader: ConText categories, sections, abbreviations, lay wording, measurements, time
expressions, operations and evidence spans. Sentences are written for these tests (not from the notes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rootcause.adapters.notes import read_note
from rootcause.errors import CaseError


def findings(text: str, note_date: str | None = None) -> dict[str, bool]:
    result: dict[str, bool] = read_note(text, note_date).case.get("findings", {})
    return result


def case(text: str, note_date: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = read_note(text, note_date).case
    return result


# ---------------------------------------------------------------- ConText: negation
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He denies saddle anaesthesia or sphincter disturbance.",
         {"saddle_anaesthesia": False, "bladder_dysfunction": False, "bowel_dysfunction": False}),
        ("No fever, rigors or night sweats.", {"fever": False}),
        ("Nil numbness. Pins and needles in the left foot.", {"numbness": False, "paraesthesia": True}),
        ("Fever: nil.", {"fever": False}),
        ("SLR left 40° +ve, XSLR -ve.", {"slr_positive": True, "crossed_slr_positive": False}),
        ("Calves SNT. Wound C/D/I.", {"calf_swelling_or_tenderness": False, "wound_problem": False}),
        ("R calf NAD. L calf swollen and tender.", {"calf_swelling_or_tenderness": True}),
        ("Coughing does not make the leg pain worse.", {"pain_worse_with_cough_or_sneeze": False}),
        ("Deep ache, not burning or electric.", {"neuropathic_pain_quality": False}),
        ("Takes no blood thinners. Non-smoker.", {"anticoagulated": False, "smoker": False}),
        ("rhBMP-2 not used.", {"bmp_used_at_surgery": False}),
        ("Patient know fevers or chills.", {"fever": False}),  # speech recognition's "know" for "no"
        ("She knows she has had a fever.", {"fever": True}),
    ],
)  # fmt: skip
def test_negation(text: str, expected: dict[str, bool]) -> None:
    got = findings(text)
    for fid, value in expected.items():
        assert got.get(fid) is value, (fid, got)


# ------------------------------------------------- ConText: uncertainty, hypothetical, family, history
@pytest.mark.parametrize(
    ("text", "absent_ids"),
    [
        ("?foot drop on the left.", ["foot_drop"]),
        ("He thinks there may be some ooze from the wound.", ["wound_problem"]),
        ("Query DVT.", ["ultrasound_dvt", "calf_swelling_or_tenderness"]),
        ("Advised to return if he develops saddle numbness, fever or leg weakness.",
         ["saddle_anaesthesia", "fever", "leg_weakness"]),
        ("What if I get the pins and needles again?", ["paraesthesia"]),
        ("Urgent MRI requested to rule out an epidural haematoma.", ["mri_epidural_collection"]),
        ("His father has diabetes and his sister is on warfarin.", ["diabetes", "anticoagulated"]),
        ("Her wife has rheumatoid arthritis.", ["rheumatoid_arthritis"]),
        ("Before the operation she had neurogenic claudication, needing to sit to get relief.",
         ["neurogenic_claudication"]),
        ("Pre-op MRI (from referral): L5/S1 disc extrusion with a sequestered fragment.",
         ["mri_disc_at_operated_level"]),
        ("He had urinary retention and saddle numbness at the time, both now recovered.",
         ["bladder_dysfunction", "saddle_anaesthesia"]),
        ("Nil red flags. Neuro: normal.", ["saddle_anaesthesia", "bladder_dysfunction", "leg_weakness"]),
    ],
)  # fmt: skip
def test_no_finding_from_uncertain_hypothetical_family_or_history(text: str, absent_ids: list[str]) -> None:
    got = findings(text)
    for fid in absent_ids:
        assert fid not in got, (fid, got)


def test_a_cue_heading_a_list_reaches_its_items_and_no_further() -> None:
    advice = findings(
        "Return to the emergency department at once if you notice any of:\n"
        "- numbness between the legs or around the back passage\n"
        "• trouble passing water\n"
        "3) a temperature over 38 degrees\n"
        "Seen today: pins and needles in the left foot."
    )
    assert not {"saddle_anaesthesia", "bladder_dysfunction", "fever"} & advice.keys(), advice
    assert advice.get("paraesthesia") is True  # the line after the list is not advice
    denied = findings("ROS - denies:\n - fevers\n - calf pain or swelling\nLeft calf tender today.")
    assert denied.get("fever") is False and denied.get("calf_swelling_or_tenderness") is True, denied
    results = findings("Results discussed:\n- Temperature 38.9 C on the ward.")
    assert results.get("fever") is True, results  # a heading of results, not of topics
    far = findings("No concerns raised by the patient at the visit today about:\n- fever 38.6 C on Tuesday")
    assert far.get("fever") is True, far  # the cue is too far from the colon to head the list


def test_a_template_field_left_blank_is_not_read_either_way() -> None:
    form = findings(
        "CES proforma:\n  Saddle numbness ........ Y\n  Faecal incontinence / loss of control ..\n"
        "  Urinary retention .......... N\nSeen by FY2."
    )
    assert form.get("saddle_anaesthesia") is True and form.get("bladder_dysfunction") is False, form
    assert "bowel_dysfunction" not in form, form
    boxes = findings(
        "ROS:\n  Leg weakness ........ [ ] Yes  [x] No\n  Calf pain / swelling ........ [ ] Yes  [ ] No\n"
    )
    assert boxes.get("leg_weakness") is False and "calf_swelling_or_tenderness" not in boxes, boxes


def test_a_one_line_diagnosis_heading_does_not_make_the_letter_a_diagnosis() -> None:
    letter = case(
        "Diagnosis: left S1 radicular pain five months after left L5/S1 microdiscectomy (24/01/2026)\n\n"
        "From ten weeks after the operation her left leg pain crept back. It is a burning ache, 6/10 today. "
        "She has no numbness in the saddle region.\n\nImpression: epidural fibrosis\n",
        "2026-06-18",
    )
    assert letter.get("pain_scores") == [{"day": 145, "nrs": 6}], letter
    assert letter["findings"].get("saddle_anaesthesia") is False, letter
    plan = findings("Plan:\nMRI to look for a collection.\n\nWound oozing.\n")  # a title alone heads it all
    assert "wound_problem" not in plan, plan


def test_a_csf_leak_named_alone_is_not_fluid_from_the_wound() -> None:
    told = findings("Revision discectomy in 2011, complicated by a dural tear and a CSF leak.")
    assert "clear_fluid_from_wound" not in told and "wound_problem" not in told, told
    seen = findings("Clear fluid leaking from the wound since yesterday.")
    assert seen.get("clear_fluid_from_wound") is True and seen.get("wound_problem") is True, seen


def test_an_imaging_reports_impression_is_what_the_images_show() -> None:
    report = (
        "MRI LUMBAR SPINE - PRE- AND POST-GADOLINIUM\nClinical details: left L5/S1 microdiscectomy 2025.\n"
        "Findings:\nL5/S1: left hemilaminotomy defect.\n"
        "Impression:\n1. New right paracentral L5/S1 disc extrusion compressing the right S1 root: "
        "recurrent herniation at the operated level.\n"
    )
    assert findings(report).get("mri_disc_at_operated_level") is True, findings(report)
    letter = "Letter\nL5/S1 microdiscectomy 2025.\nImpression: recurrent herniation at the operated level."
    assert "mri_disc_at_operated_level" not in findings(letter)  # a clinician's impression is a diagnosis


def test_relative_reporting_is_not_family_history() -> None:
    assert findings("He has had shivers and his wife measured 38.4 °C on Sunday.")["fever"] is True


def test_resolved_symptoms() -> None:
    got = findings(
        "Had urinary retention on day 1 requiring a catheter, now voiding normally. "
        "Early headaches have settled."
    )
    assert got["bladder_dysfunction"] is False
    assert got["positional_headache"] is False
    # a fever since surgery stays a fever when it has settled
    assert findings("Pyrexial to 38.5 on day 3, now settled.")["fever"] is True


def test_sections_plan_assessment_and_history() -> None:
    text = (
        "PMH: T2DM, AF on apixaban.\nImp: ?cauda equina ?haematoma.\nPlan: treatment-dose LMWH, urgent MRI."
    )
    got = findings(text)
    assert got["diabetes"] is True
    assert got["anticoagulated"] is True
    assert "saddle_anaesthesia" not in got and "mri_epidural_collection" not in got
    assert findings("Not on anticoagulants. Plan: start treatment-dose LMWH.")["anticoagulated"] is False


def test_stopped_drug_does_not_count_but_a_current_one_does() -> None:
    assert findings("Enoxaparin stopped at discharge.").get("anticoagulated") is not True
    assert findings("On enoxaparin 40 mg od (prophylaxis) since POD 1.")["anticoagulated"] is True


# ---------------------------------------------------------------- measurements, grades, parent statements
@pytest.mark.parametrize(
    ("text", "fid", "value"),
    [
        ("Obs: T 38.4, HR 98.", "fever", True),
        ("Obs: T 36.9, HR 98.", "fever", False),
        ("Apyrexial.", "fever", False),
        ("BMI 36.", "obesity", True),
        ("BMI 27.", "obesity", False),
        ("ETOH ~6 units/wk.", "heavy_alcohol_use", False),
        ("Drinks about 50 units of alcohol a week.", "heavy_alcohol_use", True),
        ("ABI in clinic: left 0.62, right 0.95.", "abi_low", True),
        ("Bladder scan PVR 820 ml.", "bladder_dysfunction", True),
        ("Hb 91 (pre-op 128).", "haemoglobin_drop", True),
        ("WCC 14.8, ESR 96.", "wbc_elevated", True),
    ],
)  # fmt: skip
def test_measurements(text: str, fid: str, value: bool) -> None:
    assert findings(text)[fid] is value


def test_crp_is_judged_against_the_postoperative_day() -> None:
    assert findings("CRP 187 on day 14.")["crp_elevated"] is True
    assert findings("POD 2 after L4/5 TLIF. CRP 95.")["crp_elevated"] is False
    assert findings("Seen 4 months after L4/5 TLIF. CRP 4.")["crp_elevated"] is False


def test_power_grades_and_parent_statements() -> None:
    got = findings("O/E: left ankle dorsiflexion 2/5, EHL 2/5; plantarflexion 5/5.")
    assert got["foot_drop"] is True and got["leg_weakness"] is True
    got = findings("O/E: bilat ankle PF 3/5, DF 4/5.")
    assert "foot_drop" not in got and got["leg_weakness"] is True
    got = findings("O: Myotomes, reflexes and sensation normal.")
    for fid in (
        "leg_weakness",
        "progressive_weakness",
        "new_motor_deficit",
        "reflex_loss",
        "dermatomal_sensory_loss",
    ):
        assert got[fid] is False, fid
    got = findings("She has no back pain.")
    assert got["mechanical_back_pain"] is False and got["severe_back_pain_at_rest"] is False
    # "4/5 SIJ provocation tests" is not a power grade
    assert "leg_weakness" not in findings("Thigh thrust +ve (4/5 SIJ provocation tests +ve).")


# ---------------------------------------------------------------- abbreviations and lay wording
def test_abbreviations() -> None:
    got = findings("PMH: T2DM. Denies chest pain/SOB. R leg P&N. Denies B&B dysfunction. FNST L +ve.")
    assert got["diabetes"] is True
    assert got["chest_pain_or_breathlessness"] is False
    assert got["paraesthesia"] is True
    assert got["bladder_dysfunction"] is False and got["bowel_dysfunction"] is False
    assert got["femoral_stretch_positive"] is True


def test_lay_wording() -> None:
    text = (
        "My leg is tingly and the top of my foot feels numb. "
        "No numbness down below and my wee and poo are normal. "
        "I dont have a temperature. One end of the scar is a bit red. My calves are fine."
    )
    got = findings(text)
    assert got["paraesthesia"] is True and got["numbness"] is True
    assert got["saddle_anaesthesia"] is False
    assert got["bladder_dysfunction"] is False and got["bowel_dysfunction"] is False
    assert got["fever"] is False
    assert got["wound_problem"] is True
    assert got["calf_swelling_or_tenderness"] is False


@pytest.mark.parametrize(
    "text",
    [
        "After about 100 metres she has to sit on a bench to carry on.",
        "Thigh pain after ten minutes in the queue, eased by leaning on the shopping cart.",
        "He has to lean forward on the trolley to keep going.",
    ],
)
def test_claudication_told_by_what_relieves_it(text: str) -> None:
    assert findings(text).get("neurogenic_claudication") is True


def test_bone_growing_into_the_foramen_on_ct() -> None:
    got = findings("CT (March 2026): new bone growing from the interbody graft bed into the R L5/S1 foramen.")
    assert got.get("ct_foraminal_bone_growth") is True, got


def test_saddle_numbness_is_not_leg_numbness() -> None:
    got = findings("Pain both legs + 'numb down below' when wiping.")
    assert got["saddle_anaesthesia"] is True
    assert "numbness" not in got


# ---------------------------------------------------------------- operations
@pytest.mark.parametrize(
    ("text", "surgery"),
    [
        ("TLIF L5-S1 (pedicle screws and cage).",
         {"procedure": "fusion", "levels": ["L5-S1"], "route": "posterior", "instrumented": True}),
        ("s/p XLIF L3/4 + L4/5.",
         {"procedure": "fusion", "levels": ["L3-L4", "L4-L5"], "route": "lateral", "instrumented": True}),
        ("Diagnosis: left S1 radicular pain five months after left L5/S1 microdiscectomy (24/01/2026)",
         {"procedure": "discectomy", "levels": ["L5-S1"], "route": "posterior"}),
        ("Referral: POD 5 after L4/5 PLIF (pedicle screws and cages) - please assess for an AFO.",
         {"procedure": "fusion", "levels": ["L4-L5"], "route": "posterior", "instrumented": True}),
        ("Listed for: revision L5/S1 foraminotomy.\nHistory: L5/S1 TLIF (pedicle screws, cage) 19/12 ago.",
         {"procedure": "fusion", "levels": ["L5-S1"], "route": "posterior", "instrumented": True}),
        ("Listed for L4/5 microdiscectomy. Op 10/03/2026.\nMRI: laminotomy defect, post-discectomy change.",
         {"procedure": "discectomy", "levels": ["L4-L5"], "route": "posterior"}),
        ("PSH:\n- 2023: L5/S1 discectomy.\n- L4-S1 posterolateral fusion (pedicle screws to S1) 03/04/2025.",
         {"procedure": "fusion", "levels": ["L4-L5", "L5-S1"], "route": "posterior", "instrumented": True}),
        ("X-Stop interspinous spacer L4/5.",
         {"procedure": "interspinous_spacer", "levels": ["L4-L5"], "route": "posterior",
          "instrumented": True}),
        ("L4/5 decompression (bilateral laminotomy).",
         {"procedure": "laminectomy", "levels": ["L4-L5"], "route": "posterior"}),
        ("R L5/S1 tubular microdiscectomy.",
         {"procedure": "discectomy", "levels": ["L5-S1"], "approach": "minimally_invasive",
          "route": "posterior"}),
        ("Open L3-5 laminectomy.",
         {"procedure": "laminectomy", "levels": ["L3-L4", "L4-L5"], "approach": "open",
          "route": "posterior"}),
        ("L5/S1 ALIF with posterior percutaneous screws.",
         {"procedure": "fusion", "levels": ["L5-S1"], "route": "combined", "instrumented": True}),
    ],
)  # fmt: skip
def test_operations(text: str, surgery: dict[str, Any]) -> None:
    assert case(text)["surgery"] == surgery


def test_the_operation_is_read_where_it_is_described_not_where_a_scan_reports_it() -> None:
    got = case(
        "Reason for referral: leg pain on walking; previous lumbar fusion.\n"
        "HPI: Instrumented posterolateral fusion L4-S1 in November 2019 for spondylolisthesis.\n"
        "Imaging:\nStanding X-rays (2026-02-20): solid posterolateral fusion L4-S1, hardware intact.",
        "2026-03-14",
    )
    assert got["surgery"]["levels"] == ["L4-L5", "L5-S1"] and got["surgery"]["instrumented"] is True, got
    assert got["days_since_surgery"] > 2000, got  # from November 2019, not from the X-ray's date


def test_a_hips_external_rotation_is_not_an_american_emergency_room() -> None:
    note = case("MSK Physiotherapy\nDate: 02/11/2026\nL4-S1 fusion 03/04/2025.\nHip IR/ER full, no pain.")
    assert note["days_since_surgery"] == 578, note  # day-first dates: 3 April 2025 to 2 November 2026


def test_planned_or_family_operations_are_not_the_index_operation() -> None:
    assert "surgery" not in case("We discussed a revision microdiscectomy. His father has had two fusions.")
    got = case("PSHx: PLIF L3-5 7 yrs ago. L4/5 microdiscectomy 2009.")
    assert got["surgery"]["procedure"] == "fusion"
    assert got["findings"]["previous_spine_surgery"] is True


def test_uncertain_level_is_left_out() -> None:
    got = case("I had my microdiscectomy (L4-5 i think) in June.", "2026-09-01")
    assert got["surgery"] == {"procedure": "discectomy", "route": "posterior"}


# ---------------------------------------------------------------- time
@pytest.mark.parametrize(
    ("text", "note_date", "days"),
    [
        ("POD 3 after L4/5 TLIF.", None, 3),
        ("6/52 post L4/5 microdiscectomy.", None, 42),
        ("L4/5 laminectomy 3/12 ago.", None, 91),
        ("L5/S1 TLIF (instrumented) 14/12 ago.", None, 426),
        ("L5/S1 microdiscectomy 7 yrs ago.", None, 2555),
        ("Clinic 11/09/2025. Operation: X-Stop L4/5, 07/08/2025.", None, 35),
        ("I'm two weeks post op today from my L4/L5 discectomy.", None, 14),
        ("I had my microdiscectomy on the 2nd of June.", "2026-08-04", 63),
        ("I had my laminectomy in March last year.", "2026-11-20", 615),
        ("I had my laminectomy in March 2025.", "2026-11-20", 615),
        ("Day 10 after R L5/S1 microdiscectomy.", None, 10),
    ],
)  # fmt: skip
def test_days_since_surgery(text: str, note_date: str | None, days: int | None) -> None:
    assert case(text, note_date).get("days_since_surgery") == days


def test_month_only_date_within_ten_percent() -> None:
    # 15 March -> 20 April is 36 days; the month spans +-15 days, more than 10 %: not used
    assert "days_since_surgery" not in case("I had my discectomy in March.", "2026-04-20")


def test_vague_or_bare_year_gives_no_timing() -> None:
    got = case("L4/5 laminectomy in 2018. Leg pain for a few months.")
    assert "days_since_surgery" not in got
    assert "onset_days" not in got.get("leg_pain", {})


def test_onset_relief_speed_trend() -> None:
    text = (
        "Clinic 28/04/2026. Operation: left L5/S1 microdiscectomy, 03/03/2026. "
        "His left sciatica resolved completely after the operation and he was pain free "
        "until six weeks post-op, when he sneezed and felt an immediate "
        "return of pain down the left calf. It has been unchanged over the last fortnight."
    )
    leg = case(text)["leg_pain"]
    assert leg == {
        "relief_after_surgery": "complete",
        "side": "left",
        "onset_days": 42,
        "onset_speed": "sudden",
        "trend": "stable",
    }
    leg = case("POD 9 L4/5 XLIF. PC: L calf pain and swelling x 2/7.")["leg_pain"]
    assert leg["onset_days"] == 7 and leg["onset_speed"] == "sudden" and leg["side"] == "left"
    leg = case(
        "L4/5 TLIF 14/12 ago; her leg pain resolved completely. "
        "Over the last 6/12, gradually increasing L buttock pain."
    )["leg_pain"]
    assert leg["onset_days"] == 426 - 183 and leg["onset_speed"] == "gradual" and leg["trend"] == "worsening"


def test_since_weekday_uses_the_note_date() -> None:
    # 2026-09-10 is a Thursday; last Sunday was 4 days before
    got = case(
        "I had an endoscopic discectomy on 1 September. Since Sunday the pain is back down my right leg.",
        "2026-09-10",
    )
    assert got["days_since_surgery"] == 9
    assert got["leg_pain"]["onset_days"] == 5


def test_pain_scores_with_their_days() -> None:
    text = (
        "R L4/5 microdiscectomy 5/52 ago. Leg NRS 8/10 at her pre-op assessment (two weeks before surgery), "
        "4/10 at the 2/52 wound check, 2/10 today. Back pain VAS 7/10 today. ODI 38%. "
        "Maybe a 6 out of 10 yesterday."
    )
    assert case(text)["pain_scores"] == [{"day": -14, "nrs": 8}, {"day": 14, "nrs": 4}, {"day": 35, "nrs": 2}]
    assert case("Post L4/5 discectomy 2/52. I'd say 4 out of ten today.")["pain_scores"] == [
        {"day": 14, "nrs": 4}
    ]


# ---------------------------------------------------------------- evidence, validity, purity
def test_every_value_keeps_its_span() -> None:
    text = "ED 02:40. 67F. POD 2 open L3-5 laminectomy. Afebrile. Denies chest pain/SOB. BMI 36."
    reading = read_note(text)
    assert reading.evidence
    for ev in reading.evidence:
        assert text[ev["start"] : ev["end"]] == ev["text"]
        assert ev["end"] > ev["start"]
    fields = {ev["field"] for ev in reading.evidence}
    assert {
        "age",
        "sex",
        "days_since_surgery",
        "surgery.procedure",
        "findings.fever",
        "findings.obesity",
    } <= fields
    fever = next(ev for ev in reading.evidence if ev["field"] == "findings.fever")
    assert fever["value"] is False and fever["text"] == "Afebrile"


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "Patient attended for a blood pressure check. BP 128/82. No concerns."]
)
def test_notes_with_nothing_relevant(text: str) -> None:
    reading = read_note(text)
    assert reading.case == {}
    assert "surgery.procedure" in reading.missing and "findings.fever" in reading.missing


def test_missing_lists_what_an_assessment_still_needs() -> None:
    reading = read_note("L4/5 microdiscectomy. Denies saddle anaesthesia. Afebrile.")
    assert "surgery.procedure" not in reading.missing
    assert {"days_since_surgery", "leg_pain.onset_days", "findings.bladder_dysfunction"} <= set(
        reading.missing
    )
    assert "findings.fever" not in reading.missing and "findings.saddle_anaesthesia" not in reading.missing


def test_reading_is_a_valid_case_and_repeatable(engine: Any) -> None:
    text = "Clinic 14/05/2026. L5/S1 ALIF 01/04/2026. T 38.6. Wound discharging pus. Leg pain 3/10 today."
    first, second = read_note(text), read_note(text)
    assert first == second
    engine.parse(first.case)


def test_bad_note_date_names_the_field() -> None:
    with pytest.raises(CaseError) as info:
        read_note("L4/5 TLIF.", "31/12/2026")
    assert info.value.problems[0].field == "note_date"
    assert read_note("L4/5 TLIF on 1 May 2026.", dt.date(2026, 5, 11)).case["days_since_surgery"] == 10
