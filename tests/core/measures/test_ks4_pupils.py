"""Pupil-level KS4 measures, worked by hand: each Attainment 8 rule, discounting, EBacc, English and
maths, and the explanation of every pupil's figures. Points come from a small hand-made table so
every number below can be checked on paper."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keystage.core.measures.ks4.estimates import load_dfe_estimates
from keystage.core.measures.ks4.points import POINTS_SCHEMA
from keystage.core.measures.ks4.progress import with_national_floors
from keystage.core.measures.ks4.pupils import pupil_measures
from tests.core.measures.test_ks4_estimates import PROGRESS8

JUNE = date(2024, 6, 1)
NOVEMBER = date(2023, 11, 1)
GCSE = [str(g) for g in range(1, 10)]
TECH_AWARD = {"*2": 8.5, "D2": 7.0, "M2": 5.5, "P2": 4.0, "D1": 3.0, "M1": 2.0, "P1": 1.25}
COMBINED = {f"{a}{b}": (a + b) / 2 for a in range(1, 10) for b in range(1, a + 1) if a - b <= 1}

# qan: (title, discount code, pillar, double award, grades)
QUALIFICATIONS: dict[str, tuple[str, str, str | None, bool, dict[str, float]]] = {
    "MATHS": ("GCSE Mathematics", "RB1", "maths", False, {g: float(g) for g in GCSE}),
    "LANG": ("GCSE English Language", "FK2B", "english", False, {g: float(g) for g in GCSE}),
    "LIT": ("GCSE English Literature", "FB1", "english_literature", False, {g: float(g) for g in GCSE}),
    "COMBSCI": ("GCSE Combined Science", "RA1E", "science", True, COMBINED),
    "BIO": ("GCSE Biology", "RC1", "science", False, {g: float(g) for g in GCSE}),
    "CHEM": ("GCSE Chemistry", "RD1", "science", False, {g: float(g) for g in GCSE}),
    "PHYS": ("GCSE Physics", "RF1", "science", False, {g: float(g) for g in GCSE}),
    "HIST": ("GCSE History", "DB", "humanities", False, {g: float(g) for g in GCSE}),
    "GEOG": ("GCSE Geography", "DA", "humanities", False, {g: float(g) for g in GCSE}),
    "FRENCH": ("GCSE French", "FK1", "languages", False, {g: float(g) for g in GCSE}),
    "ART": ("GCSE Art and Design (AQA)", "JA2", None, False, {g: float(g) for g in GCSE}),
    "ART_OCR": ("GCSE Art and Design (OCR)", "JA2", None, False, {g: float(g) for g in GCSE}),
    "MUSIC": ("GCSE Music", "LF", None, False, {g: float(g) for g in GCSE}),
    "DRAMA": ("GCSE Drama", "LD", None, False, {g: float(g) for g in GCSE}),
    "BTEC": ("BTEC Tech Award in Sport", "XH1", None, False, TECH_AWARD),
}


@pytest.fixture(scope="module")
def points() -> pl.DataFrame:
    rows = [
        (qan, grade, value, code, pillar, double, title)
        for qan, (title, code, pillar, double, grades) in QUALIFICATIONS.items()
        for grade, value in {**grades, "U": 0.0}.items()
    ]
    return pl.DataFrame(rows, schema=POINTS_SCHEMA, orient="row")


def results(*rows: tuple) -> pl.DataFrame:
    """(upn, qan, grade) or (upn, qan, grade, exam_date); June unless said."""
    full = [(*r, JUNE) if len(r) == 3 else r for r in rows]
    return pl.DataFrame(full, schema=["upn", "qan", "grade", "exam_date"], orient="row")


def pupils(*upns: str, ks2: tuple[float | None, float | None] = (None, None)) -> pl.DataFrame:
    return pl.DataFrame(
        {"upn": list(upns), "ks2_reading": [ks2[0]] * len(upns), "ks2_maths": [ks2[1]] * len(upns)}
    )


def one(measures, upn: str = "A") -> dict:
    return measures.pupils.filter(pl.col("upn") == upn).row(0, named=True)


def test_both_englishes_double_the_higher_and_the_other_goes_to_open(points):
    m = pupil_measures(
        results(("A", "MATHS", "6"), ("A", "LANG", "5"), ("A", "LIT", "7"), ("A", "ART", "4")),
        pupils("A"),
        points,
    )
    p = one(m)
    assert (p["a8_maths"], p["a8_english"], p["a8_ebacc"], p["a8_open"]) == (
        12,
        14,
        0,
        9,
    )  # open: lang 5 + art 4
    assert p["a8"] == 35 and p["open_slots_filled"] == 2 and p["ebacc_slots_filled"] == 0
    assert m.explain("A")[0] == "GCSE Mathematics (MATHS) grade 6: 6 points, counted twice in maths."


def test_a_single_english_counts_once_and_its_second_slot_is_empty(points):
    p = one(pupil_measures(results(("A", "MATHS", "5"), ("A", "LANG", "7")), pupils("A"), points))
    assert p["a8_english"] == 7 and p["a8"] == 17
    p = one(pupil_measures(results(("A", "LIT", "U")), pupils("A"), points))  # only literature, ungraded
    assert p["a8_english"] == 0 and p["a8"] == 0


def test_an_ungraded_english_still_counts_as_taken_for_double_weighting(points):
    p = one(pupil_measures(results(("A", "LANG", "6"), ("A", "LIT", "U")), pupils("A"), points))
    assert p["a8_english"] == 12 and p["a8_open"] == 0 and p["open_slots_filled"] == 1


def test_combined_science_fills_two_ebacc_slots_or_one_ebacc_and_one_open(points):
    p = one(pupil_measures(results(("A", "COMBSCI", "65"), ("A", "HIST", "4")), pupils("A"), points))
    assert p["a8_ebacc"] == 5.5 + 5.5 + 4 and p["ebacc_slots_filled"] == 3
    rows = [("A", "COMBSCI", "54"), ("A", "HIST", "7"), ("A", "GEOG", "6"), ("A", "FRENCH", "5")]
    p = one(pupil_measures(results(*rows), pupils("A"), points))
    # EBacc: history 7, geography 6, French 5; both science slots (4.5 each) go to open.
    assert p["a8_ebacc"] == 18 and p["a8_open"] == 9 and p["open_slots_filled"] == 2
    rows.append(("A", "ART", "5"))
    p = one(pupil_measures(results(*rows), pupils("A"), points))
    assert p["a8_open"] == 5 + 4.5 + 4.5


def test_discounting_by_a_shared_code_counts_the_best_once(points):
    m = pupil_measures(results(("A", "ART", "4"), ("A", "ART_OCR", "6")), pupils("A"), points)
    assert one(m)["a8_open"] == 6
    lines = m.explain("A")
    assert any("ART_OCR) grade 6: 6 points" in line for line in lines)
    assert (
        "GCSE Art and Design (AQA) (ART) grade 4: discounted: GCSE Art and Design (OCR) (ART_OCR) grade 6 "
        "in the same series (Summer 2024) counts (best grade in the first series)." in lines
    )


def test_the_first_entry_counts_even_when_a_later_one_is_better(points):
    m = pupil_measures(results(("A", "MATHS", "4", NOVEMBER), ("A", "MATHS", "7", JUNE)), pupils("A"), points)
    assert one(m)["a8_maths"] == 8
    assert (
        "GCSE Mathematics (MATHS) grade 7: a later entry (Summer 2024); the first series, November 2023, "
        "counts: GCSE Mathematics (MATHS) grade 4." in m.explain("A")
    )


def test_technical_award_points_come_from_the_catalogue(points):
    p = one(pupil_measures(results(("A", "BTEC", "D2"), ("A", "MUSIC", "5")), pupils("A"), points))
    assert p["a8_open"] == 12


def test_only_the_best_three_count_in_open(points):
    rows = [("A", "ART", "3"), ("A", "MUSIC", "5"), ("A", "DRAMA", "6"), ("A", "BTEC", "*2")]
    m = pupil_measures(results(*rows), pupils("A"), points)
    assert one(m)["a8_open"] == 8.5 + 6 + 5
    assert any("(ART) grade 3: 3 points, not among the best three" in line for line in m.explain("A"))


def test_empty_slots_and_no_ebacc_subjects_at_all(points):
    p = one(pupil_measures(results(("A", "MATHS", "9"), ("A", "ART", "8")), pupils("A"), points))
    assert p["a8"] == 26 and p["a8_ebacc"] == 0 and p["ebacc_slots_filled"] == 0 and not p["ebacc_entered"]


def test_a_pupil_with_no_results_scores_zero_and_unknown_results_are_explained(points):
    m = pupil_measures(results(("A", "NOPE", "5"), ("A", "MATHS", "A*")), pupils("A", "B"), points)
    assert one(m, "B")["a8"] == 0 and one(m, "A")["a8"] == 0
    lines = m.explain("A")
    assert (
        "NOPE grade 5: not counted in performance measures in 2024: not in the catalogue (no "
        "qualification has this number)." in lines
    )
    assert (
        "GCSE Mathematics (MATHS) grade A*: not counted in performance measures in 2024: not a grade of "
        "this qualification (its grades: U, 1, 2, 3, 4, 5, 6, 7, 8, 9)." in lines
    )


def test_ebacc_entry_aps_and_english_and_maths(points):
    rows = [
        ("A", "MATHS", "5"),
        ("A", "LANG", "4"),
        ("A", "LIT", "6"),
        ("A", "BIO", "7"),
        ("A", "CHEM", "5"),
        ("A", "PHYS", "3"),
        ("A", "HIST", "4"),
        ("A", "FRENCH", "2"),
    ]
    p = one(pupil_measures(results(*rows), pupils("A"), points))
    assert p["ebacc_entered"]
    assert p["ebacc_aps"] == pytest.approx((6 + 5 + 7 + 5 + 4 + 2) / 6)
    assert p["em_4plus"] and p["em_5plus"]  # maths 5, literature 6
    p = one(pupil_measures(results(("A", "MATHS", "4"), ("A", "LANG", "3")), pupils("A"), points))
    assert not p["em_4plus"] and not p["ebacc_entered"]
    single = [
        ("A", "MATHS", "5"),
        ("A", "LANG", "5"),
        ("A", "LIT", "5"),
        ("A", "BIO", "5"),
        ("A", "HIST", "5"),
    ]
    p = one(pupil_measures(results(*single, ("A", "FRENCH", "5")), pupils("A"), points))
    assert not p["ebacc_entered"]  # one single science is not a science entry


def test_a_pupil_with_no_ks2_has_attainment_but_no_progress(points):
    p = one(pupil_measures(results(("A", "MATHS", "5")), pupils("A"), points))
    assert p["ks2_pa"] is None and p["p8"] is None and p["a8"] == 10


def test_row_order_never_changes_a_figure(points):
    rows = [
        ("A", "MATHS", "6"),
        ("A", "LANG", "5"),
        ("A", "LIT", "7"),
        ("A", "COMBSCI", "54"),
        ("A", "HIST", "4"),
        ("A", "ART", "6"),
        ("A", "ART_OCR", "6"),
        ("B", "MATHS", "3"),
        ("B", "BTEC", "P2"),
    ]
    first = pupil_measures(results(*rows), pupils("A", "B"), points).pupils
    again = pupil_measures(results(*reversed(rows)), pupils("B", "A"), points).pupils
    assert first.sort("upn").equals(again.sort("upn"))


def _many_pupils() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Forty pupils, each with a different mix of the rows below."""
    rows = [
        ("MATHS", "6"),
        ("LANG", "5"),
        ("LIT", "7"),
        ("COMBSCI", "54"),
        ("BIO", "8"),
        ("CHEM", "8"),
        ("HIST", "4"),
        ("FRENCH", "3"),
        ("ART", "6"),
        ("ART_OCR", "7"),
        ("BTEC", "D2"),
        ("MUSIC", "2"),
    ]
    table = [
        (f"P{n:02}", qan, grade) for n in range(40) for i, (qan, grade) in enumerate(rows) if (n + i) % 3
    ]
    return results(*table), pupils(*[f"P{n:02}" for n in range(40)])


def test_working_a_few_pupils_at_a_time_gives_the_same_figures_and_slots(points, monkeypatch):
    import keystage.core.measures.ks4.slots as slot_rule

    table, roster = _many_pupils()
    whole = pupil_measures(table, roster, points)
    whole_slots = whole.slots()
    monkeypatch.setattr(slot_rule, "_CHUNK_ENTRIES", 7)  # slices of about one pupil
    sliced = pupil_measures(table, roster, points)
    assert sliced.pupils.equals(whole.pupils)
    assert sliced.slots().equals(whole_slots)


def test_a_hash_collision_never_pairs_a_result_with_the_wrong_pupil_or_grade(points, monkeypatch):
    """The fast lookups pair rows by a hash of their values; if two values ever shared it, the pair
    is refused and an exact join answers. Forced here with a hash that only looks at the length."""
    import keystage.core.measures.rows as engine

    table, roster = _many_pupils()
    strangers = results(("Q01", "MATHS", "9"), ("P01", "MATHS", "99"))  # not a pupil; not a grade
    honest = pupil_measures(pl.concat([table, strangers]), roster, points)
    original = engine.key_hash

    def by_length(columns, seeds=engine.SEEDS):
        if seeds != engine.SEEDS:
            return original(columns, seeds)
        return pl.when(pl.all_horizontal(pl.col(c).is_not_null() for c in columns)).then(
            pl.sum_horizontal(pl.col(c).str.len_bytes() for c in columns).cast(pl.UInt64)
        )

    monkeypatch.setattr(engine, "key_hash", by_length)
    forced = pupil_measures(pl.concat([table, strangers]), roster, points)
    assert forced.pupils.equals(honest.pupils)
    assert forced.results.sort("upn", "qan", "grade").equals(honest.results.sort("upn", "qan", "grade"))
    assert forced.results.filter(pl.col("upn") == "P01", pl.col("grade") == "99")["reason"].to_list() == [
        "not a grade of this qualification"
    ]


@pytest.mark.parametrize("confirm", ["values", "second hash"])
def test_a_pair_sharing_only_a_hash_is_refused(monkeypatch, confirm):
    """The table's hashes are all different, but a frame value shares one with a table value: the
    pair is refused, whichever way pairs are confirmed."""
    import keystage.core.measures.rows as engine

    original = engine.key_hash

    def by_length(columns, seeds=engine.SEEDS):
        if seeds != engine.SEEDS:
            return original(columns, seeds)
        return pl.col(columns[0]).str.len_bytes().cast(pl.UInt64)

    monkeypatch.setattr(engine, "key_hash", by_length)
    table = pl.DataFrame({"upn": ["A", "BB", "CCC"]})
    frame = pl.DataFrame({"upn": ["BB", "XX", "A", None, "CCC", "DDDD"]})
    found = engine.row_numbers(frame, table, ["upn"], confirm=confirm)
    assert found.to_list() == [1, None, 0, None, 2, None]


# Properties, over random pupils: the figures agree with the slot-by-slot explanation, A8 is at most 90,
# a result under a new discount code never lowers A8, and row order never changes anything.

_GRADES = {qan: sorted({**grades, "U": 0.0}) for qan, (_t, _c, _p, _d, grades) in QUALIFICATIONS.items()}
_ROW = st.sampled_from(sorted(QUALIFICATIONS)).flatmap(
    lambda qan: st.tuples(
        st.just(qan), st.sampled_from(_GRADES[qan]), st.sampled_from([NOVEMBER, JUNE, None])
    )
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), _ROW), max_size=30), seed=st.randoms())
def test_figures_agree_with_the_slots_and_never_depend_on_row_order(points, rows, seed):
    table = results(*[(upn, qan, grade, when) for upn, (qan, grade, when) in rows])
    measures = pupil_measures(table, pupils("A", "B", "C"), points)
    figures = measures.pupils.sort("upn")
    assert figures["a8"].max() <= 90
    slots = measures.slots().filter(pl.col("slot").is_not_null())
    by_slot = slots.group_by("upn", "slot").agg((pl.col("points") * pl.col("weight")).sum().alias("sum"))
    for row in figures.iter_rows(named=True):
        sums = {
            r["slot"]: r["sum"] for r in by_slot.filter(pl.col("upn") == row["upn"]).iter_rows(named=True)
        }
        assert row["a8_maths"] == pytest.approx(sums.get("maths", 0))
        assert row["a8_english"] == pytest.approx(sums.get("english", 0))
        assert row["a8_ebacc"] == pytest.approx(sums.get("ebacc", 0))
        assert row["a8_open"] == pytest.approx(sums.get("open", 0))
    shuffled = list(rows)
    seed.shuffle(shuffled)
    again = pupil_measures(
        results(*[(upn, qan, grade, when) for upn, (qan, grade, when) in shuffled]),
        pupils("C", "A", "B"),
        points,
    )
    assert again.pupils.sort("upn").equals(figures)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(_ROW, max_size=12), extra=_ROW)
def test_a_result_under_a_new_discount_code_never_lowers_a8(points, rows, extra):
    codes = {QUALIFICATIONS[qan][1] for qan, _g, _w in rows}
    assume(QUALIFICATIONS[extra[0]][1] not in codes)
    before = one(pupil_measures(results(*[("A", *r) for r in rows]), pupils("A"), points))["a8"]
    after = one(pupil_measures(results(*[("A", *r) for r in [*rows, extra]]), pupils("A"), points))["a8"]
    assert after >= before


# Progress 8 against DfE's published estimates (shared/reference/ks4/progress8).


@pytest.fixture(scope="module")
def dfe_2024():
    return load_dfe_estimates(PROGRESS8, "2024prov")


def test_the_ready_reckoner_pupil_in_group_1_with_no_results(points, dfe_2024):
    m = pupil_measures(results(), pupils("A", ks2=(78.0, 80.0)), points, dfe_2024)
    p = one(m)
    assert p["ks2_pa"] == 79 and p["pag"] == 1 and p["a8"] == 0
    assert round(p["p8"], 2) == -1.60 and p["p8_adjusted"] == p["p8"] and p["p8_was_adjusted"] is False
    assert m.explain("A")[-1].endswith(f"against {dfe_2024.label}.")


def test_element_scores_divide_by_their_slots(points, dfe_2024):
    rows = [
        ("A", "MATHS", "6"),
        ("A", "LANG", "6"),
        ("A", "LIT", "5"),
        ("A", "COMBSCI", "66"),
        ("A", "HIST", "6"),
    ]
    p = one(pupil_measures(results(*rows), pupils("A", ks2=(105.0, 105.0)), points, dfe_2024))
    group = dfe_2024.by_pag.filter(pl.col("pag") == p["pag"]).row(0, named=True)
    assert p["p8"] == pytest.approx((p["a8"] - group["a8"]) / 10)
    assert p["p8_maths"] == pytest.approx((12 - group["maths"]) / 2)
    assert p["p8_english"] == pytest.approx((12 - group["english"]) / 2)
    assert p["p8_ebacc"] == pytest.approx((18 - group["ebacc"]) / 3)
    assert p["p8_open"] == pytest.approx((5 - group["open"]) / 3)


def test_a_single_subject_ks2_pupil_uses_that_subject(points, dfe_2024):
    p = one(pupil_measures(results(("A", "MATHS", "5")), pupils("A", ks2=(None, 101.0)), points, dfe_2024))
    assert p["ks2_pa"] == 101 and p["p8"] is not None


def test_extreme_negative_scores_are_raised_to_the_national_floor(points, dfe_2024):
    # A national cohort in one group: most near the estimate, one far below it.
    upns = [f"P{n:03d}" for n in range(200)]
    rows = [(u, "MATHS", "5") for u in upns[1:]] + [(u, "LANG", "5") for u in upns[1:]]
    m = pupil_measures(results(*rows), pupils(*upns, ks2=(100.0, 100.0)), points, dfe_2024)
    adjusted, floors = with_national_floors(m)
    worst = one(adjusted, "P000")
    assert worst["p8_was_adjusted"] and worst["p8_adjusted"] > worst["p8"]
    assert worst["p8_adjusted"] == pytest.approx(floors.filter(pl.col("pag") == worst["pag"])["p8_floor"][0])
    assert adjusted.pupils["p8_was_adjusted"].sum() == 1
