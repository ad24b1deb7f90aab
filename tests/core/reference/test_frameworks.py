"""Assessment frameworks read from the data files shipped with keystage, and files that are wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keystage.core.reference.frameworks import (
    FrameworkError,
    FrameworkLibrary,
    load_framework_file,
    parse_framework,
)

LIBRARY = FrameworkLibrary.from_directory()


def test_every_collection_with_results_has_a_framework_for_the_current_year():
    for collection in ("eyfsp", "phonics", "ks1", "ks2", "ks4-gcse"):
        assert LIBRARY.for_year(collection, 2026).collection == collection


def test_eyfsp_has_17_elgs_of_which_the_12_of_the_prime_areas_and_literacy_and_maths_make_gld():
    eyfsp = LIBRARY.for_year("eyfsp", 2025)
    assert len(eyfsp.assessments) == 17
    gld = eyfsp.tagged("gld")
    assert len(gld) == 12
    assert {a.area for a in gld} == {
        "Communication and language",
        "Personal, social and emotional development",
        "Physical development",
        "Literacy",
        "Mathematics",
    }
    word_reading = eyfsp.assessment("elg_word_reading")
    assert word_reading.codes == ["1", "2", "A"]
    assert word_reading.outcome("2").has("expected") and word_reading.outcome("A").has("exempt")


def test_phonics_marks_run_0_to_40_with_the_threshold_32_and_four_codes():
    phonics = LIBRARY.for_year("phonics", 2019)
    mark = phonics.assessment("phonics_mark")
    assert mark.score is not None
    assert (mark.score.minimum, mark.score.maximum, mark.score.expected_from) == (0, 40, 32)
    assert phonics.thresholds["phonics_expected"] == 32
    assert mark.codes == ["A", "D", "Q", "L"]
    assert mark.score.accepts(32) and not mark.score.accepts(41) and not mark.score.accepts(31.5)


def test_ks1_scaled_scores_are_whole_numbers_85_to_115_and_optional():
    ks1 = LIBRARY.for_year("ks1", 2025)
    gps = ks1.assessment("ks1_gps_test")
    assert gps.optional and gps.score is not None
    assert gps.score.accepts(85) and gps.score.accepts(115)
    assert not gps.score.accepts(84) and not gps.score.accepts(100.5)
    assert gps.valid_results() == "whole numbers from 85 to 115"
    reading = ks1.assessment("ks1_reading_ta")
    assert reading.codes == ["GDS", "EXS", "WTS", "PK4", "PK3", "PK2", "PK1", "EM", "A", "D", "Q"]
    assert reading.outcome("GDS").flags == {"expected", "higher"}


def test_ks2_writing_and_science_take_left_future_and_previous_but_reading_ta_does_not():
    ks2 = LIBRARY.for_year("ks2", 2024)
    for code in ("ks2_writing_ta", "ks2_science_ta"):
        assert {"L", "F", "P"} <= set(ks2.assessment(code).codes)
    assert not {"L", "F", "P", "EXS"} & set(ks2.assessment("ks2_reading_ta").codes)
    reading = ks2.assessment("ks2_reading_test")
    assert reading.score is not None
    assert (reading.score.minimum, reading.score.maximum) == (80, 120)
    assert (reading.score.expected_from, reading.score.higher_from) == (100, 110)


def test_combined_science_is_two_digits_highest_first_with_no_gaps_and_scores_the_mean():
    double = LIBRARY.for_year("ks4-gcse", 2024).assessment("gcse_double_award")
    assert double.codes[:4] == ["99", "98", "88", "87"]
    assert "89" not in double.codes and "97" not in double.codes and "9-8" not in double.codes
    assert len(double.codes) == 18  # 17 double grades and U
    assert double.outcome("54").points == 4.5 and double.outcome("U").points == 0.0
    gcse = LIBRARY.for_year("ks4-gcse", 2024).assessment("gcse")
    assert gcse.codes == ["9", "8", "7", "6", "5", "4", "3", "2", "1", "U"]
    assert "F" not in gcse.codes and "X" not in gcse.codes


def test_a_year_before_any_framework_is_refused_by_name():
    with pytest.raises(KeyError, match="no ks1 framework covers 2020/21"):
        LIBRARY.for_year("ks1", 2021)


def test_a_later_file_supersedes_from_its_year_without_code_changes(tmp_path):
    for year, threshold in ((2012, 32), (2028, 30)):
        folder = tmp_path / "phonics"
        folder.mkdir(exist_ok=True)
        (folder / f"{year}.toml").write_text(
            f'collection = "phonics"\nfrom_year = {year}\ntitle = "Phonics"\n[thresholds]\n'
            f"phonics_expected = {threshold}\n"
            '[[assessments]]\ncode = "phonics_mark"\nlabel = "Mark"\nscore = { min = 0, max = 40 }\n'
        )
    library = FrameworkLibrary.from_directory(tmp_path)
    assert library.for_year("phonics", 2027).thresholds["phonics_expected"] == 32
    assert library.for_year("phonics", 2028).thresholds["phonics_expected"] == 30


BASE = {"collection": "ks1", "from_year": 2030, "title": "T"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"collection": "ks9"}, "collection “ks9” is not one of"),
        ({"from_year": "2030"}, "“from_year” must be int"),
        (
            {"assessments": [{"code": "Reading", "label": "R", "score": {"min": 1, "max": 2}}]},
            "codes are lower case",
        ),
        ({"assessments": [{"code": "r", "label": "R"}]}, "give outcomes, a score range, or both"),
        (
            {"assessments": [{"code": "r", "label": "R", "score": {"min": 9, "max": 2}}]},
            "min 9 is above max 2",
        ),
        (
            {"assessments": [{"code": "r", "label": "R", "outcome_sets": ["nope"]}]},
            "no outcome set named “nope”",
        ),
        (
            {
                "assessments": [
                    {"code": "r", "label": "R", "outcomes": [{"code": "X", "label": "X", "flags": ["good"]}]}
                ]
            },
            "unknown flags ['good']",
        ),
        (
            {
                "assessments": [
                    {"code": "r", "label": "R", "score": {"min": 1, "max": 2}},
                    {"code": "r", "label": "R2", "score": {"min": 1, "max": 2}},
                ]
            },
            "the code appears twice",
        ),
    ],
)
def test_a_wrong_framework_is_refused_with_what_is_wrong(change, message):
    data = {**BASE, "assessments": [{"code": "r", "label": "R", "score": {"min": 1, "max": 2}}], **change}
    with pytest.raises(FrameworkError, match=re.escape(message)):
        parse_framework(data, "ks1/2030.toml")


def test_a_file_that_is_not_toml_or_misnamed_is_refused(tmp_path: Path):
    folder = tmp_path / "ks1"
    folder.mkdir()
    broken = folder / "2030.toml"
    broken.write_text("collection = ")
    with pytest.raises(FrameworkError, match="not valid TOML"):
        load_framework_file(broken)
    misnamed = folder / "2031.toml"
    misnamed.write_text(
        'collection = "ks1"\nfrom_year = 2030\ntitle = "T"\n'
        '[[assessments]]\ncode = "r"\nlabel = "R"\nscore = { min = 1, max = 2 }\n'
    )
    with pytest.raises(FrameworkError, match=re.escape("must be saved as ks1/2030.toml")):
        load_framework_file(misnamed)


@pytest.mark.parametrize(
    "change",
    [
        {"assessments": [{"code": "r", "label": "R", "outcomes": [{"code": "X", "label": "X", "flags": 1}]}]},
        {"assessments": [{"code": "r", "label": "R", "tags": 1, "score": {"min": 1, "max": 2}}]},
        {"assessments": [{"code": "r", "label": "R", "outcomes": 3}]},
        {"assessments": [{"code": "r", "label": "R", "outcome_sets": [[1]]}]},
        {"outcome_sets": {"s": 1}, "assessments": [{"code": "r", "label": "R", "outcome_sets": ["s"]}]},
    ],
)
def test_values_of_the_wrong_type_are_framework_errors_not_crashes(change):
    with pytest.raises(FrameworkError):
        parse_framework({**BASE, **change}, "ks1/2030.toml")
