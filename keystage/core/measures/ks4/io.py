"""Reading and writing the KS4 measures' tables as files: CSV, JSON (an array of objects) or Parquet,
chosen by the file's extension.

``read_results`` and ``read_pupils`` read what an analyst gives ``keystage measures ks4``: results
(``upn, qan, grade`` and ``exam_date`` or ``series``, or both) and pupils (``upn, ks2_reading,
ks2_maths`` and optional characteristics); ``read_primary_results`` and ``read_primary_pupils`` the
same for the primary key stages (``upn, assessment, result``; ``upn, nc_year``), checked cell by
cell so that a mistake is reported with its line and never as a traceback. ``write_table`` writes
any of the measures' tables. Every problem raises ``TableFileError`` (a ValueError) whose message
names the file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from keystage.core.measures.ks4.series import WINDOWS_TEXT, Series, parse_series, series_keys
from keystage.core.refusals import Refused

FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}

RESULTS_COLUMNS = ("upn", "qan", "grade")
WHEN_COLUMNS = ("exam_date", "series")  # a results file has one or both
PUPILS_COLUMNS = ("upn", "ks2_reading", "ks2_maths")
PRIMARY_RESULTS_COLUMNS = ("upn", "assessment", "result")
PRIMARY_PUPILS_COLUMNS = ("upn", "nc_year")
# Characteristics the school figures break pupils down by (keystage.core.measures.ks4.schools) that
# are yes or no. Any column read_pupils does not know is carried through as text.
BOOLEAN_COLUMNS = ("disadvantaged", "eal", "non_mobile")

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}
_SEX = {"M": "M", "MALE": "M", "B": "M", "BOY": "M", "F": "F", "FEMALE": "F", "G": "F", "GIRL": "F"}
_SEN = {
    "E": "E",
    "EHCP": "E",
    "EHC PLAN": "E",
    "K": "K",
    "SUPPORT": "K",
    "SEN SUPPORT": "K",
    "N": "N",
    "NONE": "N",
}
KS2_HIGHEST = 120.0  # the top of the KS2 scaled score scale


class TableFileError(Refused, ValueError):
    """A file that cannot be read or written, or whose content is not as expected; the message
    names the file and, where it applies, the line."""


def file_format(path: Path) -> str:
    """ "csv", "json" or "parquet" from the extension; anything else is refused."""
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        known = ", ".join(list(FORMATS)[:-1]) + f" or {list(FORMATS)[-1]}"
        raise TableFileError(
            f"{Path(path).name}: the name must end in {known} to say how to read or write it"
        )
    return found


def check_output(path: Path) -> None:
    """Refuse, before any work, a file that ``write_table`` could not write: an unknown extension,
    a folder that does not exist, or a folder where the file should be."""
    path = Path(path)
    file_format(path)
    if not path.parent.is_dir():
        raise TableFileError(f"{path.name}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise TableFileError(f"{path}: is a folder, not a file")


def read_table(path: Path) -> pl.DataFrame:
    """The file as a table, every CSV cell as text (so a QAN or UPN keeps its leading zeros), its
    column names trimmed, in lower case, with spaces as underscores."""
    path = Path(path)
    kind = file_format(path)
    if not path.exists():
        raise TableFileError(f"{path.name}: file not found in {path.parent}")
    if not path.is_file():
        raise TableFileError(f"{path}: not a file")
    try:
        if kind == "csv":
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8", truncate_ragged_lines=False)
        elif kind == "json":
            frame = pl.read_json(path)
        else:
            frame = pl.read_parquet(path)
    except OSError as error:
        raise TableFileError(f"{path.name}: cannot be read ({error.strerror or error})") from None
    except (pl.exceptions.PolarsError, ValueError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TableFileError(f"{path.name}: not a readable {kind.upper()} file ({first})") from None
    names = [_column_name(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise TableFileError(f"{path.name}: the column {', '.join(duplicated)} appears more than once")
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _column_name(name: str) -> str:
    return "_".join(name.strip().lower().split())


def _require(frame: pl.DataFrame, path: Path, columns: tuple[str, ...], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        where = "the first line names the columns" if file_format(path) == "csv" else "each record has"
        raise TableFileError(
            f"{path.name}: the {what} file needs the column(s) {', '.join(missing)} "
            f"(it has: {found}); {where}: {','.join(columns)}"
        )
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested() or dtype == pl.Object]
    if nested:
        raise TableFileError(
            f"{path.name}: the column(s) {', '.join(nested)} hold lists or objects; "
            "each cell must be one value"
        )


def _text(frame: pl.DataFrame, column: str) -> pl.Series:
    """A column as trimmed text, empty cells null."""
    series = frame.get_column(column)
    if series.dtype == pl.Date:
        series = series.dt.strftime("%Y-%m-%d")
    text = series.cast(pl.String, strict=False).str.strip_chars()
    return text.replace("", None)


def _where(path: Path, index: int) -> str:
    """How a person finds a row: the line of a CSV file (line 1 is the header), else the record."""
    if file_format(path) == "csv":
        return f"{path.name}, line {index + 2}"
    return f"{path.name}, record {index + 1}"


def _first_bad(path: Path, original: pl.Series, parsed: pl.Series, column: str, expected: str) -> None:
    """Raise for the first cell that has a value but did not parse."""
    bad = original.is_not_null() & parsed.is_null()
    if bad.any():
        index = int(bad.arg_true()[0])
        raise TableFileError(f"{_where(path, index)}: {column} “{original[index]}” is not {expected}")


def _upns(path: Path, frame: pl.DataFrame) -> pl.Series:
    upn = _text(frame, "upn").str.to_uppercase()
    if upn.has_nulls():
        index = int(upn.is_null().arg_true()[0])
        raise TableFileError(f"{_where(path, index)}: the upn is empty; every row needs the pupil's UPN")
    return upn


def _dates(path: Path, text: pl.Series, column: str) -> pl.Series:
    """ISO dates (2024-06-01); a date written 01/06/2024 is read day first, as in England."""
    iso = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    uk = text.str.strptime(pl.Date, "%d/%m/%Y", strict=False)
    parsed = iso.fill_null(uk).alias(column)
    _first_bad(path, text, parsed, column, "a date: write it as 2024-06-01")
    return parsed


def read_results(path: Path) -> pl.DataFrame:
    """Results: upn, qan, grade (as written, e.g. 7, U, 54, D2), and when each was sat: exam_date
    (ISO, e.g. 2024-06-01, or 01/06/2024), series ("summer 2026", "June 2026", "Nov 2025", "January
    2026", "March 2026"; see keystage.core.measures.ks4.series), or both (they must agree). A file
    has at least one of the two columns; a row with neither filled in is taken as sat in the summer
    series of the results' year. A date in no exam series (e.g. in August) is refused, naming its line.

    Returns upn, qan, grade, exam_date (Date) and series (the series key, Int32: the given series,
    else the exam date's; null when neither is given). A QAN's slashes and spaces are dropped
    (601/4445/X is 6014445X). Other columns are ignored. Rows with no QAN are refused."""
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, RESULTS_COLUMNS, "results")
    if not any(column in frame.columns for column in WHEN_COLUMNS):
        found = ", ".join(frame.columns) or "none"
        raise TableFileError(
            f"{path.name}: the results file needs the column exam_date or series (or both) to say when "
            f"each result was sat (it has: {found}); e.g. upn,qan,grade,exam_date"
        )
    upn = _upns(path, frame)
    qan = _text(frame, "qan").str.replace_all(r"[/\s]", "").str.to_uppercase().replace("", None)
    if qan.has_nulls():
        index = int(qan.is_null().arg_true()[0])
        raise TableFileError(f"{_where(path, index)}: the qan is empty; give the qualification number")
    dates = pl.Series("exam_date", [None] * frame.height, dtype=pl.Date)
    if "exam_date" in frame.columns:
        exam_date = frame.get_column("exam_date")
        dates = (
            exam_date if exam_date.dtype == pl.Date else _dates(path, _text(frame, "exam_date"), "exam_date")
        )
    series = _series(path, frame, dates)
    return pl.DataFrame(
        {
            "upn": upn,
            "qan": qan,
            "grade": _text(frame, "grade").str.to_uppercase(),
            "exam_date": dates,
            "series": series,
        }
    )


def _series(path: Path, frame: pl.DataFrame, dates: pl.Series) -> pl.Series:
    """Each row's series key: the series column's, checked against the exam date where both are
    given, else the exam date's. A date in no series, or a series that is not one, is refused."""
    of_dates = pl.select(series_keys(pl.lit(dates))).to_series()
    outside = dates.is_not_null() & of_dates.is_null()
    if outside.any():
        index = int(outside.arg_true()[0])
        raise TableFileError(
            f"{_where(path, index)}: exam_date {dates[index]} is in no exam series ({WINDOWS_TEXT}); "
            "give the date of the exam, or the series it was sat in (a series column)"
        )
    if "series" not in frame.columns:
        return of_dates.alias("series")
    text = _text(frame, "series")
    # Few different values: each parsed once.
    parsed = {value: parse_series(value) for value in text.unique().drop_nulls().to_list()}
    keys = {value: found.key for value, found in parsed.items() if found is not None}
    given = text.replace_strict(keys, default=None, return_dtype=pl.Int32)
    _first_bad(
        path,
        text,
        given,
        "series",
        "an exam series: write it as summer 2026 (or June 2026), November 2025, January 2026 or March 2026",
    )
    disagree = given.is_not_null() & of_dates.is_not_null() & (given != of_dates)
    if disagree.any():
        index = int(disagree.arg_true()[0])
        raise TableFileError(
            f"{_where(path, index)}: exam_date {dates[index]} is in the {Series(of_dates[index]).label} "
            f"series, but the series says {Series(given[index]).label}"
        )
    return given.fill_null(of_dates).alias("series")


def _numbers(path: Path, frame: pl.DataFrame, column: str) -> pl.Series:
    text = _text(frame, column)
    numbers = text.cast(pl.Float64, strict=False)
    numbers = pl.select(pl.when(numbers.is_finite()).then(numbers).otherwise(None)).to_series()
    _first_bad(path, text, numbers, column, "a number: give the KS2 scaled score, or leave it empty")
    out_of_range = (numbers <= 0) | (numbers > KS2_HIGHEST)
    if out_of_range.fill_null(False).any():
        index = int(out_of_range.fill_null(False).arg_true()[0])
        raise TableFileError(
            f"{_where(path, index)}: {column} {text[index]} is not a KS2 scaled score (at most 120)"
        )
    return numbers.alias(column)


def _mapped(
    path: Path, frame: pl.DataFrame, column: str, mapping: dict[str, str], expected: str
) -> pl.Series:
    text = _text(frame, column)
    parsed = text.str.to_uppercase().replace_strict(mapping, default=None, return_dtype=pl.String)
    _first_bad(path, text, parsed, column, expected)
    return parsed.alias(column)


def _booleans(path: Path, frame: pl.DataFrame, column: str) -> pl.Series:
    series = frame.get_column(column)
    if series.dtype == pl.Boolean:
        return series
    text = _text(frame, column)
    mapping = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
    parsed = text.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    _first_bad(path, text, parsed, column, "yes or no (true/false, 1/0, or empty when not known)")
    return parsed.alias(column)


def _months(path: Path, frame: pl.DataFrame) -> pl.Series:
    text = _text(frame, "month_of_birth")
    months = text.cast(pl.Float64, strict=False)
    whole = pl.select(
        pl.when((months == months.round()) & (months >= 1) & (months <= 12)).then(months).otherwise(None)
    ).to_series()
    _first_bad(path, text, whole, "month_of_birth", "a month from 1 (January) to 12 (December)")
    return whole.cast(pl.Int8).alias("month_of_birth")


def read_pupils(path: Path) -> pl.DataFrame:
    """Pupils: upn, ks2_reading, ks2_maths (KS2 scaled scores, empty when not taken), then optional
    columns: school (its figures are given per school), sex (M/F), disadvantaged, eal, non_mobile
    (yes/no), sen (E = EHC plan, K = SEN support, N = none), ethnicity_group (any text),
    month_of_birth (1-12); any other column is carried through as text. A UPN given twice is refused."""
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, PUPILS_COLUMNS, "pupils")
    columns: dict[str, pl.Series] = {
        "upn": _unique_upns(path, frame),
        "ks2_reading": _numbers(path, frame, "ks2_reading"),
        "ks2_maths": _numbers(path, frame, "ks2_maths"),
    }
    return pl.DataFrame(columns | _characteristics(path, frame, set(columns)))


def read_primary_results(path: Path) -> pl.DataFrame:
    """Primary results: upn, assessment (as the frameworks name them, e.g. phonics_mark,
    elg_word_reading; any case), result (a mark, score or code as written). Other columns are
    ignored; rows with no assessment are refused."""
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, PRIMARY_RESULTS_COLUMNS, "results")
    assessment = _text(frame, "assessment").str.to_lowercase().replace("", None)
    if assessment.has_nulls():
        index = int(assessment.is_null().arg_true()[0])
        raise TableFileError(f"{_where(path, index)}: the assessment is empty; name it, e.g. phonics_mark")
    return pl.DataFrame(
        {"upn": _upns(path, frame), "assessment": assessment, "result": _text(frame, "result")}
    )


def read_primary_pupils(path: Path) -> pl.DataFrame:
    """Primary pupils: upn, nc_year (R or 0 for Reception, 1 to 14: a whole roster may be given), then
    the optional columns of
    ``read_pupils`` (school, sex, disadvantaged ...). A UPN given twice is refused."""
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, PRIMARY_PUPILS_COLUMNS, "pupils")
    text = _text(frame, "nc_year").str.to_uppercase().replace({"R": "0", "RECEPTION": "0"})
    year = text.cast(pl.Int64, strict=False)
    year = pl.select(pl.when((year >= 0) & (year <= 14)).then(year)).to_series()
    _first_bad(path, _text(frame, "nc_year"), year, "nc_year", "R (Reception) or a year from 1 to 14")
    columns = {"upn": _unique_upns(path, frame), "nc_year": year.alias("nc_year")}
    return pl.DataFrame(columns | _characteristics(path, frame, set(columns)))


def _unique_upns(path: Path, frame: pl.DataFrame) -> pl.Series:
    upn = _upns(path, frame)
    repeated = ~upn.is_first_distinct()
    if repeated.any():
        index = int(repeated.arg_true()[0])
        first = int((upn == upn[index]).arg_true()[0])
        raise TableFileError(
            f"{_where(path, index)}: UPN {upn[index]} is given more than once "
            f"(first at {_where(path, first)})"
        )
    return upn


def _characteristics(path: Path, frame: pl.DataFrame, done: set[str]) -> dict[str, pl.Series]:
    """The pupils file's other columns: school, and the characteristics the pupil groups read,
    each checked; any other column as text."""
    if "school" not in frame.columns and "dfe_number" in frame.columns:
        frame = frame.rename({"dfe_number": "school"})  # as keystage synth and rosters name it
    columns: dict[str, pl.Series] = {}
    for column in frame.columns:
        if column in done:
            continue
        if column == "school":
            school = _text(frame, "school")
            if school.has_nulls():
                index = int(school.is_null().arg_true()[0])
                raise TableFileError(f"{_where(path, index)}: the school is empty")
            columns[column] = school
        elif column == "sex":
            columns[column] = _mapped(path, frame, column, _SEX, "M or F")
        elif column == "sen":
            columns[column] = _mapped(
                path, frame, column, _SEN, "E (EHC plan), K (SEN support) or N (no SEN)"
            )
        elif column in BOOLEAN_COLUMNS:
            columns[column] = _booleans(path, frame, column)
        elif column == "month_of_birth":
            columns[column] = _months(path, frame)
        else:
            columns[column] = _text(frame, column)
    return columns


def write_table(frame: pl.DataFrame, path: Path) -> None:
    """Write the table as the extension says: CSV (with a header line), JSON (an array of objects,
    one per row) or Parquet."""
    path = Path(path)
    kind = file_format(path)
    check_output(path)
    # Six decimals: what the figures mean, without binary noise (0.30000000000000004).
    frame = frame.with_columns(pl.col(pl.Float64).round(6))
    try:
        if kind == "csv":
            frame.write_csv(path)
        elif kind == "json":
            frame.write_json(path)
        else:
            frame.write_parquet(path)
    except OSError as error:
        raise TableFileError(f"{path.name}: cannot be written ({error.strerror or error})") from None


def academic_year(day: date) -> int:
    """The academic year (by its end) a day falls in: September onwards belongs to the next year, so
    a November 2025 resit is 2026 and a June 2026 exam is 2026."""
    return day.year + 1 if day.month >= 9 else day.year


def results_year(results: pl.DataFrame) -> int | None:
    """The academic year of the latest exam series (given, or of an exam date), or None when no
    result has either."""
    latest: list[int] = []
    if "series" in results.columns:
        given = results.get_column("series").max()
        if isinstance(given, int):
            latest.append(Series(given).academic_year)
    if "exam_date" in results.columns:
        day = results.get_column("exam_date").max()
        if isinstance(day, date):
            latest.append(academic_year(day))
    return max(latest) if latest else None
