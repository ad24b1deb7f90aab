"""The KS4 catalogue from DfE's 2019 files: known facts, and files that are broken."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter

from keystage.core.reference.dfe_files import KS4_CATALOGUE, shipped_path
from keystage.core.reference.ks4_catalogue import (
    CatalogueFileError,
    import_dfe_2019_folder,
    import_dfe_catalogue,
    normalise_qan,
)

DFE_2019 = shipped_path(KS4_CATALOGUE)  # DfE's files as keystage ships them


@pytest.fixture(scope="module")
def catalogue():
    return import_dfe_2019_folder(DFE_2019)


def test_all_three_files_load_and_only_genuine_oddities_are_reported(catalogue):
    assert len(catalogue.qualifications) > 1000
    assert sum(1 for q in catalogue.qualifications.values() if q.grades) > 500
    reported = {(p.sheet, p.message.split(":")[0].split(" also")[0]) for p in catalogue.problems}
    # The archived EBacc sheet carries no pillar; OCR's AS Classics appears under two pillars.
    assert reported == {("Archived", "not read"), ("Languages", "50026161")}


def test_qualifications_listed_per_syllabus_keep_each_syllabus_discount_code(catalogue):
    classics = catalogue.by_qan("50026161")
    assert classics.discount_code(2019) is None  # its syllabuses discount differently
    assert classics.discount_code(2019, "H039") == "F1L"  # Latin
    assert classics.discount_code(2019, "H042") == "DB21"  # Ancient History
    assert classics in catalogue.by_discount_code("F1L", 2019)
    art = catalogue.by_qan("50025673")
    assert art.discount_code(2014, "H163") == "KJ1" and art.discount_code(2014, "H160") == "JA2"


def test_u_scores_zero_and_excel_numbers_read_as_grades(catalogue):
    maths = catalogue.by_qan("60146060")
    assert maths.points("U") == 0.0 and maths.points("u") == 0.0
    assert maths.points("9.0") == 9.0


def test_a_btec_tech_award_distinction_at_level_2_scores_7(catalogue):
    award = catalogue.by_qan("603/0395/5")  # as printed with slashes
    assert award is not None and "Tech Award" in award.title
    assert {g: award.points(g) for g in ("*2", "D2", "M2", "P2", "D1", "M1", "P1")} == {
        "*2": 8.5,
        "D2": 7.0,
        "M2": 5.5,
        "P2": 4.0,
        "D1": 3.0,
        "M1": 2.0,
        "P1": 1.25,
    }
    assert award.category == "Technical Award" and award.guided_learning_hours == 120


def test_gcse_maths_has_discount_code_rb1_in_2019_and_counts_in_the_maths_pillar(catalogue):
    maths = catalogue.by_qan("60146060")
    assert maths.title == "OCR Level 1/Level 2 GCSE (9-1) in Mathematics"
    assert maths.discount_code(2019) == "RB1"
    assert maths.ebacc_pillar(2019) == "maths"
    assert maths.points("9") == 9.0 and maths.points("4") == 4.0
    assert catalogue.discount_descriptions["RB1"] == "Maths (General)"
    boards = {
        q.title.split(" Level")[0] for q in catalogue.by_discount_code("RB1", 2019) if "GCSE (9-1)" in q.title
    }
    assert {"AQA", "OCR", "Pearson Edexcel", "WJEC Eduqas"} <= boards


def test_combined_science_is_a_double_award_scoring_the_mean_of_its_grades(catalogue):
    trilogy = catalogue.by_qan("6018758X")
    assert trilogy.is_double_award and "Combined Science: Trilogy" in trilogy.title
    assert trilogy.points("54") == 4.5 and trilogy.points("98") == 8.5 and trilogy.points("11") == 1.0
    assert trilogy.points("45") is None  # lowest first is not a grade
    assert trilogy.ebacc_pillar(2019) == "science" and trilogy.science_indicator == "Double"
    assert trilogy.discount_code(2019) == "RA1E"


def test_legacy_letter_gcses_score_as_published_and_accept_a_star_as_written(catalogue):
    hebrew = next(q for q in catalogue.qualifications.values() if q.qualification_type == "GCSE Full Course")
    assert {g: hebrew.points(g) for g in ("A*", "A", "B", "C", "D", "E", "F", "G")} == {
        "A*": 8.5,
        "A": 7.0,
        "B": 5.5,
        "C": 4.0,
        "D": 3.0,
        "E": 2.0,
        "F": 1.5,
        "G": 1.0,
    }


def test_discount_codes_are_kept_per_year(catalogue):
    years = {y for q in catalogue.qualifications.values() for y in q.discount_codes}
    assert years == set(range(2014, 2022))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("60146060", "60146060"),
        (60146060.0, "60146060"),
        ("601/4606/0", "60146060"),
        ("6018758x", "6018758X"),
        ("6014606", None),
        ("Revised GCSE results", None),
        ("", None),
    ],
)
def test_qualification_numbers_are_read_however_excel_stored_them(raw, expected):
    assert normalise_qan(raw) == expected


def _points_workbook(path: Path, rows: list[list[object]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Underlying Data")
    sheet.write_row(0, 0, ["Performance points for qualifications"])
    sheet.write_row(
        2,
        0,
        [
            "Qualification Number",
            "Qualification Title",
            "Qualification Type",
            "Pass Grades",
            "Grade Text",
            "Pass Points",
            "GCSE Size Equivalence 1",
        ],
    )
    for index, row in enumerate(rows, start=3):
        sheet.write_row(index, 0, row)
    workbook.close()
    return path


def test_rows_that_cannot_be_read_are_reported_with_their_row_and_nothing_is_guessed(tmp_path):
    path = _points_workbook(
        tmp_path / "points.xlsx",
        [
            ["60146060", "GCSE Maths", "GCSE (9-1) Full Course", "9", "Grade 9", 9, 1],
            ["6014606", "Short QAN", "GCSE (9-1) Full Course", "9", "Grade 9", 9, 1],
            ["60146060", "GCSE Maths", "GCSE (9-1) Full Course", "8", "Grade 8", "eight", 1],
            ["60146060", "GCSE Maths", "GCSE (9-1) Full Course", "9", "Grade 9", 8.5, 1],
            ["Note: a footnote under the table"],
        ],
    )
    catalogue = import_dfe_catalogue(points=path)
    messages = [(p.row, p.message) for p in catalogue.problems]
    assert messages == [
        (5, "qualification number “6014606” is not valid"),
        (6, "60146060: grade “8” with points “eight” cannot be read"),
        (7, "60146060: grade 9 scores both 9.0 and 8.5; kept 9.0"),
    ]
    assert str(catalogue.problems[0]).startswith("points.xlsx, sheet Underlying Data, row 5:")
    maths = catalogue.by_qan("60146060")
    assert maths.points("9") == 9.0 and maths.points("8") is None


def test_a_file_of_the_wrong_shape_is_refused_as_a_whole(tmp_path):
    not_a_workbook = tmp_path / "points.xlsx"
    not_a_workbook.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(CatalogueFileError, match="cannot be read as a spreadsheet"):
        import_dfe_catalogue(points=not_a_workbook)
    workbook = xlsxwriter.Workbook(str(tmp_path / "other.xlsx"))
    workbook.add_worksheet("Sheet1").write_row(0, 0, ["Qualification Number", "Title"])
    workbook.close()
    with pytest.raises(CatalogueFileError, match="no sheet named “Underlying Data”"):
        import_dfe_catalogue(points=tmp_path / "other.xlsx")
    _points_workbook(tmp_path / "cols.xlsx", [])
    with pytest.raises(CatalogueFileError, match="no sheets named by year"):
        import_dfe_catalogue(points=tmp_path / "cols.xlsx", discount_codes=tmp_path / "cols.xlsx")
