"""Synthetic national data: reproducible, valid, realistic, and calibrated to published figures."""

from __future__ import annotations

import polars as pl
import pytest
from stdnum.gb import upn as stdnum_upn

from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.scoring import NOT_COUNTED_REASONS
from keystage.core.measures.ks4.series import series_of
from keystage.core.pupils.roster_csv import KS1_CODES as ROSTER_KS1_CODES
from keystage.core.reference.dfe_files import KS4_CATALOGUE, shipped_path
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate, load_parameters
from keystage.core.synth.generator import upn_check_letters
from tests.core.synth_figures import ks4_figures, ks4_pupil_figures, primary_figures

# A mid-sized year: 150 secondary and 800 primary schools, about 180,000 pupils.
CALIBRATION = SynthSpec(secondary_schools=150, primary_schools=800, seed=7)


@pytest.fixture(scope="module")
def year():
    return generate(CALIBRATION)


def test_national_figures_land_within_the_stated_tolerance_of_published_ones(year):
    params = load_parameters()
    targets, tolerance = params["targets"], params["tolerance"]
    figures = {**primary_figures(year), **ks4_figures(year)}
    for name in ("phonics_y1_met", "gld", "ks2_rwm_expected", "ebacc_entry"):
        assert abs(figures[name] - targets[name]) <= tolerance["share"], (name, figures[name])
    assert abs(figures["a8_mean"] - targets["a8_mean"]) <= tolerance["a8"], figures["a8_mean"]


def test_group_gaps_run_in_the_published_direction(year):
    pupils = ks4_pupil_figures(year)

    def mean(expr: pl.Expr) -> float:
        return pupils.filter(expr)["a8"].mean()

    assert mean(pl.col("fsm6")) < mean(~pl.col("fsm6")) - 8  # disadvantaged pupils attain less
    assert mean(pl.col("sex") == "F") > mean(pl.col("sex") == "M")
    assert mean(pl.col("sen") == "E") < mean(pl.col("sen") == "K") < mean(pl.col("sen") == "N")
    with_prior = pupils.filter(pl.col("ks2_reading").is_not_null())
    assert with_prior.select(pl.corr("ks2_maths", "a8")).item() > 0.5  # prior attainment drives outcomes


def test_schools_differ_and_characteristics_are_in_national_proportions(year):
    pupils = year.pupils
    by_school = ks4_pupil_figures(year).group_by("school_id").agg(pl.col("a8").mean())
    assert by_school["a8"].std() > 3  # school effects: schools are not all alike
    params = load_parameters()["pupils"]
    assert abs(pupils["sex"].eq("F").mean() - params["female"]) < 0.01
    assert abs(pupils["fsm6"].mean() - params["disadvantaged_mean"]) < 0.03
    assert abs(pupils["sen"].eq("E").mean() - params["ehcp"]) < 0.01
    assert abs(pupils["ethnicity"].eq("WBRI").mean() - params["ethnicity"]["WBRI"]) < 0.02


def test_the_same_seed_gives_the_same_year_and_another_seed_another():
    small = SynthSpec.at_scale("small")
    first, again, other = generate(small), generate(small), generate(SynthSpec.at_scale("small", seed=99))
    assert first.pupils.equals(again.pupils) and first.ks4_results.equals(again.ks4_results)
    assert first.primary_results.equals(again.primary_results)
    assert not first.pupils.equals(other.pupils)


def test_every_upn_is_valid_and_unique(year):
    upns = year.pupils["upn"]
    assert upns.n_unique() == year.pupils.height
    assert all(stdnum_upn.is_valid(u) for u in upns.sample(5000, seed=1).to_list())
    import numpy as np

    bodies = np.array([123456789012, 801400120001, 999999999999])
    assert list(upn_check_letters(bodies)) == [stdnum_upn.calc_check_digit(str(b)) for b in bodies]


def test_every_result_is_valid_for_its_assessment(year):
    frameworks = FrameworkLibrary.from_directory()
    assessments = {
        a.code: a for c in frameworks.collections() for a in frameworks.for_year(c, 2026).assessments
    }
    # A Year 2 pupil's check in Year 1 is marked as the check is.
    assessments["phonics_mark_year1"] = assessments["phonics_mark"]
    # Year 11's KS1 assessments are nine years old: their codes are the roster's (PKF until 2018).
    year11 = year.pupils.filter(pl.col("nc_year") == 11).select("upn")
    older = year.primary_results.join(year11, on="upn", how="semi")
    assert set(older["assessment"]) == {"ks1_reading_ta", "ks1_writing_ta", "ks1_maths_ta"}
    assert set(older["result"]) <= set(ROSTER_KS1_CODES) and older.height == 3 * year11.height
    for code, values in year.primary_results.join(year11, on="upn", how="anti").group_by("assessment"):
        assessment = assessments[code[0]]
        for value in values["result"].unique().to_list():
            valid = assessment.outcome(value) is not None or (
                assessment.score is not None and value.isdigit() and assessment.score.accepts(int(value))
            )
            assert valid, (code[0], value)
    gcse = assessments["gcse"].codes
    double = assessments["gcse_double_award"].codes
    quals = load_parameters()["ks4"]["qualifications"]
    grades = year.ks4_results
    assert set(grades.filter(pl.col("qan") == quals["combined_science"])["grade"].unique()) <= set(double)
    assert set(grades.filter(pl.col("qan") == quals["maths"])["grade"].unique()) <= set(gcse)
    assert grades.select(pl.struct("upn", "qan").is_unique().all()).item()


def test_every_ks4_grade_is_one_of_its_qualifications_in_dfes_points_file(year):
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    pairs = year.ks4_results.select("qan", "grade").unique().iter_rows()
    invalid = [(qan, grade) for qan, grade in pairs if catalogue.qualifications[qan].points(grade) is None]
    assert invalid == []
    # The BTEC Tech Award is graded as its points file says (P1 ... *2), so it counts.
    btec = "60303955"
    assert set(year.ks4_results.filter(pl.col("qan") == btec)["grade"]) == {
        "U", "P1", "M1", "D1", "P2", "M2", "D2", "*2"
    }  # fmt: skip
    points = points_table(catalogue, CALIBRATION.year)
    measures = pupil_measures(year.ks4_results, year.pupils.filter(pl.col("nc_year") == 11), points)
    assert measures.results.filter(pl.col("reason").is_in(list(NOT_COUNTED_REASONS))).height == 0
    assert measures.results.filter((pl.col("qan") == btec) & pl.col("reason").is_null()).height > 1000


def test_exam_dates_are_in_the_summer_series_but_for_early_entries_sharing_a_discount_code(year):
    params = load_parameters()["ks4"]
    others = params["other_boards"]
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    results = year.ks4_results.with_columns(
        pl.col("exam_date").map_elements(lambda d: series_of(d).label, return_dtype=pl.String).alias("series")
    )
    summer = f"Summer {CALIBRATION.year}"
    by_series = dict(results.group_by("series").len().iter_rows())
    assert set(by_series) == {summer, f"November {CALIBRATION.year - 1}", f"Summer {CALIBRATION.year - 1}"}
    assert results.filter(pl.col("series") == summer)["exam_date"].n_unique() > 20  # a timetable
    # Each early or second entry shares its discount code with an entry of the same pupil.
    regular = {
        others["english_language"]: params["qualifications"]["english_language"],
        others["maths"]: params["qualifications"]["maths"],
        others["french"]: params["qualifications"]["french"],
        others["french_second"]: params["qualifications"]["french"],
    }
    for other, usual in regular.items():
        code = catalogue.qualifications[usual].discount_code(2021)
        assert catalogue.qualifications[other].discount_code(2021) == code
        takers = results.filter(pl.col("qan") == other)
        assert takers.height > 10, other
        paired = takers.join(results.filter(pl.col("qan") == usual), on="upn", how="semi").height
        assert paired == takers.height
    second = results.filter(pl.col("qan") == others["french_second"])
    assert set(second["series"]) == {summer}
    french = results.filter(pl.col("qan") == params["qualifications"]["french"])
    first = french.join(second, on="upn", how="semi")
    assert set(first["series"]) == {summer} and first["exam_date"][0] != second["exam_date"][0]


def test_one_school_is_a_valid_scale():
    year = generate(SynthSpec.at_scale("school"))
    assert year.schools.height == 2 and year.pupils.height > 0
    assert set(year.pupils["nc_year"].unique()) == {0, 1, 2, 4, 6, 11}


def test_names_follow_sex_and_pupils_joined_at_their_schools_first_year_group(year):
    params = load_parameters()["names"]
    girls = year.pupils.filter(pl.col("sex") == "F")
    assert set(girls["forename"].unique()) <= set(params["female_forenames"])
    year11 = year.pupils.filter(pl.col("nc_year") == 11)
    from datetime import date

    usual = year11.filter(pl.col("joined_on") == date(CALIBRATION.year - 5, 9, 1)).height / year11.height
    assert usual > 0.9  # joined in Year 7; the rest joined recently (the mobile group)


def test_the_primary_engine_finds_the_calibrated_national_figures(year):
    from keystage.core.measures.group_figures import national_figures
    from keystage.core.measures.primary import eyfsp, ks2, phonics

    params = load_parameters()
    targets, tolerance = params["targets"], params["tolerance"]
    library = FrameworkLibrary.from_directory()
    profiles = library.for_year("eyfsp", 2026)
    reception = eyfsp.eyfsp_pupils(year.primary_results, year.pupils.filter(pl.col("nc_year") == 0), profiles)
    gld = national_figures(reception, eyfsp.eyfsp_measures(profiles), group_columns=["all"]).item(0, "gld")
    years_1_and_2 = year.pupils.filter(pl.col("nc_year").is_in([1, 2]))
    checks = phonics.phonics_pupils(year.primary_results, years_1_and_2, library.for_year("phonics", 2026))
    nation = national_figures(checks, phonics.MEASURES, group_columns=["all"])
    met, by_end = nation.item(0, "phonics_y1_met"), nation.item(0, "phonics_y2_met_by_end")
    year6 = year.pupils.filter(pl.col("nc_year") == 6)
    ks2_pupils = ks2.ks2_pupils(year.primary_results, year6, library.for_year("ks2", 2026))
    rwm = national_figures(ks2_pupils, ks2.MEASURES, group_columns=["all"]).item(0, "ks2_rwm_expected")
    assert abs(gld - targets["gld"]) <= tolerance["share"], gld
    assert abs(met - targets["phonics_y1_met"]) <= tolerance["share"], met
    assert abs(rwm - targets["ks2_rwm_expected"]) <= tolerance["share"], rwm
    assert abs(by_end - targets["phonics_y2_met_by_end"]) <= tolerance["share"], by_end
    # KS2 progress: every Year 6 pupil has KS1 results; the nation's progress is 0 before the floor
    # raises about 1% of pupils, a little above after.
    progress = national_figures(ks2_pupils, ks2.MEASURES, group_columns=["all"])
    for subject in ("reading", "writing", "maths"):
        assert progress.item(0, f"ks2_{subject}_progress_pupils") > 0.95 * ks2_pupils.height
        assert 0 <= progress.item(0, f"ks2_{subject}_progress") < 0.05
        raised = ks2_pupils.get_column(f"ks2_{subject}_progress_was_adjusted").mean()
        assert 0.005 < raised < 0.015, (subject, raised)
