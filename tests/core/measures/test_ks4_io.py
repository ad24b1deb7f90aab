"""Reading an analyst's results and pupils files, and writing the measures' tables, as CSV, JSON or
Parquet: what is read, and the message for each mistake (never a traceback)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from keystage.core.measures.ks4 import io
from keystage.core.measures.ks4.io import TableFileError
from keystage.core.measures.ks4.series import Series, summer


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_results_keep_qualification_numbers_as_text_and_read_iso_and_english_dates(tmp_path):
    path = write(
        tmp_path / "results.csv",
        "UPN,QAN,Grade,Exam date\n"
        "a123,60146084,7,2024-06-01\n"
        "A123,601/4292/3,u,01/11/2023\n"
        "A124,0012345X,9.0,\n",
    )
    results = io.read_results(path)
    assert results.to_dicts() == [
        {"upn": "A123", "qan": "60146084", "grade": "7", "exam_date": date(2024, 6, 1), "series": 20244},
        {"upn": "A123", "qan": "60142923", "grade": "U", "exam_date": date(2023, 11, 1), "series": 20241},
        {"upn": "A124", "qan": "0012345X", "grade": "9.0", "exam_date": None, "series": None},
    ]
    assert io.results_year(results) == 2024


def test_results_may_give_the_series_instead_of_or_beside_the_exam_date(tmp_path):
    path = write(
        tmp_path / "results.csv",
        "upn,qan,grade,series,exam_date\n"
        "A1,60146084,4,Nov 2025,\n"
        "A1,60146060,7,summer 2026,2026-06-10\n"
        "A2,60181576,5,,2026-06-05\n"
        "A2,60187086,6,June 2026,\n"
        "A3,60146084,6,,\n",
    )
    results = io.read_results(path)
    labels = [None if k is None else Series(k).label for k in results["series"]]
    assert labels == ["November 2025", "Summer 2026", "Summer 2026", "Summer 2026", None]
    assert io.results_year(results) == 2026
    only = write(tmp_path / "only-series.csv", "upn,qan,grade,series\nA1,60146084,4,2026 summer\n")
    assert io.read_results(only).row(0) == ("A1", "60146084", "4", None, summer(2026).key)


def test_a_missing_column_is_named_with_the_columns_expected(tmp_path):
    path = write(tmp_path / "results.csv", "upn,qan,grade\nA1,60146084,7\n")
    with pytest.raises(TableFileError) as error:
        io.read_results(path)
    assert str(error.value) == (
        "results.csv: the results file needs the column exam_date or series (or both) to say when each "
        "result was sat (it has: upn, qan, grade); e.g. upn,qan,grade,exam_date"
    )
    path = write(tmp_path / "results.csv", "upn,grade,exam_date\nA1,7,2024-06-01\n")
    with pytest.raises(TableFileError, match=r"needs the column\(s\) qan"):
        io.read_results(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "upn,qan,grade,exam_date\nA1,60146084,7,2024-13-01\n",
            "results.csv, line 2: exam_date “2024-13-01”",
        ),
        (
            "upn,qan,grade,exam_date\nA1,60146084,7,2024-06-01\n,60146084,6,2024-06-01\n",
            "line 3: the upn is empty",
        ),
        ("upn,qan,grade,exam_date\nA1,,7,2024-06-01\n", "line 2: the qan is empty"),
        (
            "upn,qan,grade,exam_date\nA1,60146084,7,2026-06-01\nA1,60142923,6,2026-08-14\n",
            "results.csv, line 3: exam_date 2026-08-14 is in no exam series (November: October to December; "
            "January: January and February; March; summer: May and June)",
        ),
        (
            "upn,qan,grade,series\nA1,60146084,7,Sumer 2026\n",
            "results.csv, line 2: series “Sumer 2026” is not an exam series: write it as summer 2026",
        ),
        (
            "upn,qan,grade,series,exam_date\nA1,60146084,7,November 2025,2026-06-05\n",
            "results.csv, line 2: exam_date 2026-06-05 is in the Summer 2026 series, but the series says "
            "November 2025",
        ),
    ],
)
def test_a_bad_results_cell_is_reported_with_its_line(tmp_path, text, message):
    with pytest.raises(TableFileError) as error:
        io.read_results(write(tmp_path / "results.csv", text))
    assert message in str(error.value)


def test_pupils_characteristics_are_read_as_the_school_figures_need_them(tmp_path):
    path = write(
        tmp_path / "pupils.csv",
        "upn,ks2_reading,ks2_maths,school,sex,disadvantaged,sen,eal,non_mobile,ethnicity_group,month_of_birth,form\n"
        "A1,105,108.5,8004001,f,Yes,k,0,true,White,3,11B\n"
        "A2,,,8004001,Male,,EHCP,,no,,12,\n",
    )
    pupils = io.read_pupils(path)
    assert pupils.to_dicts() == [
        {
            "upn": "A1",
            "ks2_reading": 105.0,
            "ks2_maths": 108.5,
            "school": "8004001",
            "sex": "F",
            "disadvantaged": True,
            "sen": "K",
            "eal": False,
            "non_mobile": True,
            "ethnicity_group": "White",
            "month_of_birth": 3,
            "form": "11B",
        },
        {
            "upn": "A2",
            "ks2_reading": None,
            "ks2_maths": None,
            "school": "8004001",
            "sex": "M",
            "disadvantaged": None,
            "sen": "E",
            "eal": None,
            "non_mobile": False,
            "ethnicity_group": None,
            "month_of_birth": 12,
            "form": None,
        },
    ]
    assert pupils.schema["disadvantaged"] == pl.Boolean and pupils.schema["ks2_reading"] == pl.Float64


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A2,BLW,100", "line 3: ks2_reading “BLW” is not a number"),
        ("A2,100,121", "line 3: ks2_maths 121 is not a KS2 scaled score"),
        ("A1,100,100", "line 3: UPN A1 is given more than once"),
    ],
)
def test_bad_pupils_are_reported_with_their_line(tmp_path, row, message):
    path = write(tmp_path / "pupils.csv", f"upn,ks2_reading,ks2_maths\nA1,100,100\n{row}\n")
    with pytest.raises(TableFileError, match=message):
        io.read_pupils(path)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("sex", "X", "sex “X” is not M or F"),
        ("sen", "Q", "sen “Q” is not E (EHC plan), K (SEN support) or N (no SEN)"),
        ("eal", "maybe", "eal “maybe” is not yes or no"),
        ("month_of_birth", "13", "month_of_birth “13” is not a month from 1 (January) to 12 (December)"),
        ("school", "", "line 2: the school is empty"),
    ],
)
def test_a_bad_characteristic_is_reported(tmp_path, column, value, expected):
    path = write(tmp_path / "pupils.csv", f"upn,ks2_reading,ks2_maths,{column}\nA1,100,100,{value}\n")
    with pytest.raises(TableFileError) as error:
        io.read_pupils(path)
    assert expected in str(error.value)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_tables_written_in_each_format_read_back_the_same(tmp_path, suffix):
    results = pl.DataFrame(
        {
            "upn": ["A1", "A2"],
            "qan": ["60146084", "6018758X"],
            "grade": ["7", "65"],
            "exam_date": [date(2024, 6, 1), None],
            "series": pl.Series([20244, None], dtype=pl.Int32),
        }
    )
    pupils = pl.DataFrame(
        {"upn": ["A1", "A2"], "ks2_reading": [101.0, None], "ks2_maths": [99.0, 88.0], "eal": [True, None]}
    )
    io.write_table(results, tmp_path / f"results{suffix}")
    io.write_table(pupils, tmp_path / f"pupils{suffix}")
    assert io.read_results(tmp_path / f"results{suffix}").equals(results)
    assert io.read_pupils(tmp_path / f"pupils{suffix}").equals(pupils)


def test_files_that_cannot_be_read_or_written_say_why(tmp_path):
    with pytest.raises(TableFileError, match=r"results.xlsx: the name must end in .csv, .json or .parquet"):
        io.read_results(tmp_path / "results.xlsx")
    with pytest.raises(TableFileError, match=r"missing.csv: file not found in"):
        io.read_results(tmp_path / "missing.csv")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(TableFileError, match=r"broken.parquet: not a readable PARQUET file"):
        io.read_results(tmp_path / "broken.parquet")
    (tmp_path / "latin.csv").write_bytes("upn,qan,grade,exam_date\nA\xe9,1,2,\n".encode("latin-1"))
    with pytest.raises(TableFileError, match=r"latin.csv: not a readable CSV file"):
        io.read_results(tmp_path / "latin.csv")
    with pytest.raises(TableFileError, match=r"the folder .* does not exist"):
        io.write_table(pl.DataFrame({"a": [1]}), tmp_path / "nowhere" / "out.csv")
    with pytest.raises(TableFileError, match=r"out.txt: the name must end in"):
        io.check_output(tmp_path / "out.txt")


def test_the_academic_year_of_an_exam():
    assert io.academic_year(date(2026, 6, 15)) == 2026
    assert io.academic_year(date(2025, 11, 4)) == 2026  # a November resit belongs to the next summer
    assert io.results_year(pl.DataFrame({"exam_date": [None]}, schema={"exam_date": pl.Date})) is None
    assert io.results_year(pl.DataFrame({"series": [20261]}, schema={"series": pl.Int32})) == 2026


def test_json_records_must_hold_one_value_per_column(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('[{"upn": ["A1"], "qan": "60146084", "grade": "7", "exam_date": "2024-06-01"}]')
    with pytest.raises(TableFileError, match=r"results.json: the column\(s\) upn hold lists or objects"):
        io.read_results(path)
    path.write_text('{"upn": "A1"}')
    with pytest.raises(TableFileError, match="needs the column"):
        io.read_results(path)
