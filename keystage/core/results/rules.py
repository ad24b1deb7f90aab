"""Every rule an upload is checked against, declared once: a stable code, a severity, a plain
message template and the columns it concerns. The engine (``validation.py``) raises issues only
through these, so the CLI, the API, the upload page and the error workbook all say the same thing.
The readers of CTFs, rosters, DfE's KS4 catalogue and KS5 outcomes report through the same rules
and the same ``Issue``, each naming its place as its files do (``Place``).

Codes are stable: scripts and MIS vendors match on them. Change a message freely; never reuse a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the file cannot be used until it is fixed
    WARNING = "warning"  # the file is used; keystage read the value as the message says


class Place(StrEnum):
    """How an issue's file names the place: each reader's files have their own way."""

    CELL = "cell"  # a spreadsheet's row and lettered column (an upload): "row 3, column B (UPN)"
    ELEMENT = "element"  # an XML element's path (a CTF): "CTfile/CTFpupilData/Pupil[3]/DOB (UPN …)"
    CSV_ROW = "csv_row"  # a row and named column of a CSV (a roster): "Row 3 (UPN …), sex “X”"
    FILE = "file"  # a file by name, with its sheet and row where it has them: "f.xlsx, sheet S, row 4"


@dataclass(frozen=True)
class Issue:
    """One problem, where the file's user sees it: row 1-based; column as the file names it (a letter
    in a spreadsheet, the heading in a roster CSV); for a CTF the element's path, for a workbook of
    DfE's the file and sheet."""

    code: str
    severity: Severity
    message: str
    row: int | None = None
    column: str | None = None
    column_header: str | None = None
    value: str = ""
    pupil: str = ""  # whom it concerns, as the file names them: "UPN A123..., Smith, Ann" (CTFs)
    place: Place = Place.CELL
    upn: str = ""  # the pupil's UPN as the file gives it, where a reader knows it
    path: str = ""  # an element of a CTF: CTfile/CTFpupilData/Pupil[3]/DOB
    file: str = ""  # the file's name, for readers of several files
    sheet: str = ""  # the workbook's sheet

    def as_dict(self) -> dict[str, Any]:
        found = {
            "row": self.row,
            "column": self.column,
            "column_header": self.column_header,
            "value": self.value,
            "pupil": self.pupil,
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
        }
        # An upload's issues keep exactly the keys they always had; the readers' add their places.
        extra = {"upn": self.upn, "path": self.path, "file": self.file, "sheet": self.sheet}
        return found | {key: value for key, value in extra.items() if value}

    @property
    def where(self) -> str:
        who = f" ({self.pupil})" if self.pupil else ""
        if self.place is Place.ELEMENT:
            return f"{self.path}{who}"
        if self.place is Place.CSV_ROW:
            return f"Row {self.row}{who}, {self.column} “{self.value}”"
        if self.place is Place.FILE:
            sheet = f"sheet {self.sheet}" if self.sheet else ""
            row = f"row {self.row}" if self.row is not None else ""
            return ", ".join(part for part in (self.file, sheet, row) if part) or "whole file"
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            header = f" ({self.column_header})" if self.column_header else ""
            parts.append(f"column {self.column}{header}")
        return ", ".join(parts) or "whole file"

    def __str__(self) -> str:
        label = "Warning: " if self.severity is Severity.WARNING else ""
        return f"{label}{self.where}: {self.message}"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    message: str  # a str.format template; {value} is the cell as written, {header} its column
    concerns: str  # which columns: "file", "structure", a pupil field, or "results"
    place: Place = Place.CELL  # how the files it is raised on name places

    def issue(
        self,
        *,
        row: int | None = None,
        column: str | None = None,
        header: str | None = None,
        value: object = "",
        path: str = "",
        file: str = "",
        on_sheet: str = "",
        for_upn: str = "",
        **details: object,
    ) -> Issue:
        """The issue at a place: a cell's ``row``, ``column`` and ``header``; a CTF element's ``path``;
        a workbook's ``file``, ``on_sheet`` and ``row``; ``for_upn`` the pupil it concerns. The message
        may name ``{value}``, ``{header}``, ``{column}`` and ``{file}``, and any of ``details``."""
        text = "" if value is None else str(value)
        message = self.message.format(
            value=text, header=header or "", column=column or "", file=file, **details
        )
        return Issue(
            self.code,
            self.severity,
            message,
            row,
            column,
            header,
            text,
            pupil=f"UPN {for_upn}" if for_upn else "",
            place=self.place,
            upn=for_upn,
            path=path,
            file=file,
            sheet=on_sheet,
        )


RULES: dict[str, Rule] = {}


def rule(code: str, severity: Severity, message: str, concerns: str, place: Place = Place.CELL) -> Rule:
    if code in RULES:
        raise ValueError(f"rule {code} is declared twice")
    RULES[code] = declared = Rule(code, severity, message, concerns, place)
    return declared


def from_dict(data: dict[str, Any], place: Place) -> Issue:
    """An issue back from ``as_dict()`` (as stored), its place named as ``place``'s files name them."""
    return Issue(
        code=data.get("code", ""),  # problems stored before they had codes have none
        severity=Severity(data.get("severity", Severity.ERROR)),
        message=data["message"],
        row=data.get("row"),
        column=data.get("column"),
        column_header=data.get("column_header"),
        value=data.get("value", ""),
        pupil=data.get("pupil", ""),
        place=place,
        upn=data.get("upn", ""),
        path=data.get("path", ""),
        file=data.get("file", ""),
        sheet=data.get("sheet", ""),
    )


E, W = Severity.ERROR, Severity.WARNING

# The file itself
FILE_EMPTY = rule("file.empty", E, "The file is empty.", "file")
FILE_TOO_LARGE = rule(
    "file.too_large", E, "The file is {size} MB; the largest file accepted is {limit} MB.", "file"
)
FILE_UNREADABLE = rule(
    "file.unreadable",
    E,
    "The file cannot be read as {kind}: {reason}. Save it again as .xlsx and upload that.",
    "file",
)
FILE_TYPE = rule(
    "file.type",
    E,
    "This is not a spreadsheet, CSV or CTF file ({reason}). Upload the template as .xlsx.",
    "file",
)
FILE_PASSWORD = rule(
    "file.password_protected",
    E,
    "The workbook is protected with a password, so it cannot be read. Remove the password "
    "(File > Info > Protect Workbook) and upload it again.",
    "file",
)
FILE_BOMB = rule(
    "file.suspicious_archive",
    E,
    "The file unpacks to {size} MB, far more than any template; it was not opened. "
    "Save your results in a new copy of the template.",
    "file",
)
FILE_ENCODING = rule(
    "file.encoding",
    W,
    "The CSV is not UTF-8; it was read as {encoding}. If names look wrong, save it as “CSV UTF-8”.",
    "file",
)
CTF_NOT_ACCEPTED = rule(
    "file.ctf_not_accepted",
    E,
    "{title} does not take a Common Transfer File; upload the template as .xlsx.",
    "file",
)
CTF_UNREADABLE = rule("file.ctf_unreadable", E, "The CTF cannot be read: {reason}", "file")

# The shape of the sheet
NOT_A_TEMPLATE = rule(
    "structure.not_a_template",
    E,
    "No “UPN” column heading was found in the first {rows} rows, so this is not a {title} template. "
    "Download the template from Get template and enter results in it.",
    "structure",
)
WRONG_TEMPLATE = rule(
    "structure.wrong_template",
    E,
    "This is the {found} template, but this upload is for {expected}. Upload it to {found}, or download "
    "the {expected} template.",
    "structure",
)
WRONG_YEAR = rule(
    "structure.wrong_year",
    E,
    "This template is for {found}; this upload is for {expected}. Download this year's template.",
    "structure",
)
PUPIL_COLUMN_MISSING = rule(
    "structure.pupil_column_missing",
    E,
    "The pupil column{plural} {missing} {verb} missing. Keep the template's pupil columns as they are.",
    "structure",
)
COLUMN_REMOVED = rule(
    "structure.column_removed",
    E,
    "{count} subject column{plural} removed: {names}. Subject columns must not be deleted; copy your results "
    "into a fresh template.",
    "structure",
)
COLUMN_ADDED = rule(
    "structure.column_added",
    E,
    "The column “{header}” is not in the template. Subject columns must not be added; remove it.",
    "structure",
)
COLUMN_RENAMED = rule(
    "structure.column_renamed",
    E,
    "This column's heading was changed to “{header}”; it must be “{expected}”. Subject columns must not be "
    "renamed.",
    "structure",
)
COLUMNS_REORDERED = rule(
    "structure.columns_reordered",
    E,
    "Subject columns have been moved: this column should be “{expected}”, not “{header}”. Subject columns "
    "must stay in the template's order.",
    "structure",
)
HEADER_EDITED = rule(
    "structure.header_edited",
    E,
    "The {label} of “{header}” was changed to “{value}”; it must be “{expected}”. The header rows must not "
    "be edited.",
    "structure",
)
FORMULA_WITHOUT_VALUE = rule(
    "cell.formula_without_value",
    E,
    "This cell holds a formula ({value}) with no saved value, so nothing can be read from it: type the "
    "value, not a formula.",
    "results",
)
NO_PUPILS = rule(
    "structure.no_pupils", E, "The file has no pupil rows below the column headings.", "structure"
)
PUPILS_ON_ANOTHER_SHEET = rule(
    "structure.pupils_on_another_sheet",
    E,
    "The sheet “{sheet}”, which keystage reads, has no pupils; the sheet “{other}” holds {count} UPNs. "
    "Put the pupils on “{sheet}” under its column headings, then upload the file again.",
    "structure",
)
BLANK_TEMPLATE = rule(
    "structure.blank_template",
    E,
    "No results have been entered: this looks like the blank template. Enter your pupils' results, save, "
    "and upload the completed file.",
    "structure",
)

# Pupils
DFE_MISSING = rule("dfe.missing", E, "{header} is missing.", "dfe")
DFE_FORMAT = rule(
    "dfe.format", E, "DfE number “{value}” must be 7 digits (LA code and establishment).", "dfe"
)
DFE_OTHER_SCHOOL = rule("dfe.other_school", E, "DfE number {value} is not {school}'s ({expected}).", "dfe")
KEY_STAGE = rule(
    "key_stage.wrong", E, "Key stage must be {expected} for {title}, not “{value}”.", "key_stage"
)
NC_YEAR = rule("nc_year.wrong", E, "NC year must be {expected} for {title}, not “{value}”.", "nc_year")
UPN_MISSING = rule("upn.missing", E, "UPN is missing.", "upn")
UPN_INVALID = rule("upn.invalid", E, "{reason}.", "upn")
UPN_CHECK_LETTER = rule("upn.check_letter", E, "{reason}.", "upn")
DUPLICATE = rule(
    "pupil.duplicate", E, "UPN {value} is also in row {first}: a pupil can appear only once.", "upn"
)
NOT_ON_ROSTER = rule(
    "pupil.not_on_roster",
    E,
    "UPN {value} is not on the school's roster for {year}. {title} takes only rostered pupils: update the "
    "roster from your MIS, then download the template again.",
    "upn",
)
ADDED_PUPIL = rule(
    "pupil.added",
    W,
    "UPN {value} is not on the school's roster for {year}; the pupil is added with these results.",
    "upn",
)
ROSTER_DIFFERS = rule(
    "pupil.roster_differs",
    W,
    "UPN {upn} is {pupil} on the school's roster; this row's {what} is “{value}” (the roster's: {roster}). "
    "Check the UPN is this pupil's: a mistyped UPN gives the results to another child.",
    "upn",
)
ROSTER_DID_YOU_MEAN = rule(
    "pupil.roster_did_you_mean",
    W,
    "UPN {value} is not on the roster, but {pupil} is, under UPN {other}: did you mean {other}?",
    "upn",
)
FORENAME_MISSING = rule("forename.missing", E, "Forename is missing.", "forename")
SURNAME_MISSING = rule("surname.missing", E, "Surname is missing.", "surname")
_ODD_NAME = " keystage keeps it exactly as written, as text (never a formula); check it is the pupil's name."
FORENAME_ODD = rule("forename.odd", W, "Forename “{value}” {reason}." + _ODD_NAME, "forename")
SURNAME_ODD = rule("surname.odd", W, "Surname “{value}” {reason}." + _ODD_NAME, "surname")
DOB_MISSING = rule("dob.missing", E, "{header} is missing.", "dob")
DOB_DAY = rule("dob.day", E, "Day of birth must be a whole number from 1 to 31, not “{value}”.", "dob")
DOB_MONTH = rule("dob.month", E, "Month of birth must be a whole number from 1 to 12, not “{value}”.", "dob")
DOB_YEAR = rule("dob.year", E, "Year of birth must be {expected} for {cohort}, not “{value}”.", "dob")
DOB_NOT_A_DATE = rule("dob.not_a_date", E, "{day}/{month}/{year} is not a real date.", "dob")
DOB_AMBIGUOUS = rule(
    "dob.ambiguous",
    E,
    "Date of birth “{value}” could be {one} or {other}, and no date in the file settles which order its "
    "dates are written in. Write it as {iso} (year-month-day), or save the file with UK date settings.",
    "dob",
)
DOB_MONTH_FIRST = rule(
    "dob.month_first",
    W,
    "The file's dates of birth are written month first (mm/dd/yyyy, as a spreadsheet with US settings "
    "saves them): a day above 12 comes second in some and first in none, so all were read month first.",
    "dob",
)
DOB_FORMAT = rule("dob.format", E, "Date of birth “{value}” must be a date written dd/mm/yyyy.", "dob")
DOB_OUT_OF_COHORT = rule(
    "dob.out_of_cohort",
    W,
    "Born {born}: outside {cohort} ({first} to {last}). Check the date; a pupil taught out of year group "
    "is accepted.",
    "dob",
)
GENDER = rule("gender.invalid", E, "Gender must be Female or Male, not “{value}”.", "gender")

# Results
RESULT_INVALID = rule(
    "result.invalid", E, "“{value}” is not a valid result for {header}. Valid results: {valid}.", "results"
)
SCORE_RANGE = rule(
    "result.score_range",
    E,
    "Range must be between {minimum} to {maximum} and be whole numbers{codes}. Allows empty field.",
    "results",
)
RESULT_SPACES = rule("result.spaces", W, "“{value}” has spaces around it; read as “{read}”.", "results")
RESULT_CASE = rule(
    "result.case", W, "“{value}” read as “{read}”: results are written in capitals.", "results"
)
RESULT_DECIMAL_WHOLE = rule("result.decimal_point", W, "“{value}” read as {read}.", "results")
RESULT_DECIMAL = rule("result.decimal", E, "“{value}” has decimals; grades are whole: {valid}.", "results")
COMBINED_SCIENCE_FORMAT = rule(
    "result.combined_science_format",
    E,
    "Write Combined Science as two digits with nothing between them, highest first: “{read}”, not “{value}”.",
    "results",
)
COMBINED_SCIENCE_ORDER = rule(
    "result.combined_science_order",
    E,
    "Combined Science grades go highest first: “{read}”, not “{value}”.",
    "results",
)
COMBINED_SCIENCE_SINGLE = rule(
    "result.combined_science_single",
    E,
    "Combined Science is a double award: write two digits, highest first (e.g. “{example}”), not “{value}”.",
    "results",
)
LETTER_GRADE = rule(
    "result.letter_grade",
    E,
    "“{value}” is a letter grade; {header} is graded 9 to 1 (or U).",
    "results",
)
UNGRADED = rule(
    "result.ungraded",
    E,
    "Use “U” for an ungraded result or a fail (not “{value}”); leave the cell blank if not entered.",
    "results",
)
# Refusals of a whole stored file by the upload and LA-return checks, with the reason in words.
UPLOAD_REFUSED = rule("upload.refused", E, "{reason}", "file")
UPLOAD_UNCHECKABLE = rule(
    "upload.uncheckable",
    E,
    "This file could not be checked: the check stopped part way through each time it was tried. "
    "Check it is the template saved as .xlsx, .ods or .csv and upload it again; if it happens again, "
    "tell your administrator.",
    "file",
)
RETURN_NOT_CTF = rule(
    "return.not_ctf",
    E,
    "{la} takes {tag} returns as a CTF (an XML file), and this file is {found}. Export a CTF from your "
    "MIS for the LA and send that.",
    "file",
)
RETURN_NO_LAYOUT = rule("return.no_layout", E, "{reason}", "file")
RETURN_UNCHECKABLE = rule(
    "return.uncheckable",
    E,
    "This file could not be checked: the check stopped part way through each time it was tried. Check "
    "it is a CTF exported from your MIS and send it again; if it happens again, ask your LA.",
    "file",
)
RETURN_CHECK_FAILED = rule(
    "return.check_failed",
    E,
    "This file could not be checked. Send it again; if the problem stays, ask your LA.",
    "file",
)
# The refusals of a file sent to the API's POST /validate and checked by the background worker.
API_CHECK_FAILED = rule(
    "api_check.failed",
    E,
    "This file could not be checked. Send it again; if the problem stays, tell your administrator.",
    "file",
)
API_CHECK_UNCHECKABLE = rule(
    "api_check.uncheckable",
    E,
    "This file could not be checked: the check stopped part way through each time it was tried. "
    "Check it is a results file (the template saved as .xlsx, .ods or .csv, or a CTF) and send it "
    "again; if it happens again, tell your administrator.",
    "file",
)
CTF_NOT_READ = rule(
    "file.ctf_not_read",
    W,
    "Parts of the CTF keystage does not use were not read (each with the number of pupils whose "
    "record has it): {parts}.",
    "file",
)
CTF_OTHER_COLLECTION = rule(
    "result.ctf_other_collection",
    W,
    "{count} result{plural} coded Stage {stage}, Subject {subject}, Method {method}, Component "
    "{component} belong{verb} to another collection, not {title}; {pronoun} {was} not read here.",
    "results",
)
CTF_UNMAPPED = rule(
    "result.ctf_unmapped",
    W,
    "An assessment coded Stage {stage}, Subject {subject}, Method {method}, Component {component}, "
    "ResultQualifier {qualifier} is not in keystage's CTF mapping for {year}; it was not read.",
    "results",
)

# The CTF reader (keystage ctf check, import): each at an element of the file, by its path.
X = Place.ELEMENT
CTF_DOB_NOT_A_DATE = rule("ctf.dob_not_a_date", E, "“{value}” is not a date like 2014-10-08", "dob", X)
CTF_NOT_A_PUPIL = rule(
    "ctf.not_a_pupil", E, "<{tag}> is not a Pupil: its contents were not read", "structure", X
)
CTF_VERSION_OLD = rule(
    "ctf.version_old",
    W,
    "CTF {version}.0 is older than the {expected}.0 written for {year}: the MIS that wrote it may need "
    "updating. It was read: every element keystage uses is in every version since 11.0.",
    "file",
    X,
)
# The note says which year's mapping or framework was used instead, and from when.
CTF_MAPPING_OF_ANOTHER_YEAR = rule("ctf.mapping_of_another_year", W, "{note}.", "results", X)
CTF_FRAMEWORK_OF_ANOTHER_YEAR = rule("ctf.framework_of_another_year", W, "{note}.", "results", X)
CTF_UPN_INVALID = rule("ctf.upn_invalid", E, "{reason}", "upn", X)
CTF_UPN_DUPLICATE = rule("ctf.upn_duplicate", E, "the same UPN is already Pupil[{first}]", "upn", X)
CTF_NAME_MISSING = rule("ctf.name_missing", E, "{name} is missing", "name", X)
CTF_NAME_ODD = rule(
    "ctf.name_odd", W, "{name} “{shown}” {reason}; it is kept exactly as written: check it", "name", X
)
CTF_DOB_MISSING = rule("ctf.dob_missing", E, "DOB is missing", "dob", X)
CTF_SEX_INVALID = rule("ctf.sex_invalid", E, "Sex “{value}” must be M or F", "gender", X)
CTF_ASSESSMENT_UNMAPPED = rule(
    "ctf.assessment_unmapped",
    E,
    "this assessment (Stage {stage}, Subject {subject}, Method {method}, Component {component}, "
    "ResultQualifier {qualifier}) is not in the mapping for {year}",
    "results",
    X,
)
CTF_RESULT_INVALID = rule(
    "ctf.result_invalid", E, "{label}: “{value}” is not a valid result ({valid})", "results", X
)
# A roster from a CTF's pupils (keystage ctf import): what keeps a pupil out, or how it was placed.
CTF_NC_YEAR_BY_AGE = rule(
    "ctf.nc_year_by_age",
    W,
    "no NC year given: {group} by the date of birth if the pupil is new to the roster (a pupil on it "
    "keeps its year group)",
    "nc_year",
    X,
)
CTF_NC_YEAR_NOT_OF_SCHOOL_AGE = rule(
    "ctf.nc_year_not_of_school_age",
    E,
    "no NC year given, and the date of birth is not of school age",
    "nc_year",
    X,
)
CTF_NC_YEAR_INVALID = rule(
    "ctf.nc_year_invalid", E, "NC year “{value}” must be R or a year from 1 to 14", "nc_year", X
)
CTF_ROSTER_DOB_MISSING = rule("ctf.roster_dob_missing", E, "a roster needs a date of birth", "dob", X)
CTF_ROSTER_DETAILS_MISSING = rule(
    "ctf.roster_details_missing", E, "a roster needs Surname, Forename and Sex (M or F)", "name", X
)
CTF_ETHNICITY_INVALID = rule(
    "ctf.ethnicity_invalid", E, "“{value}” is not a DfE ethnicity code", "ethnicity", X
)
CTF_SEN_INVALID = rule("ctf.sen_invalid", E, "“{value}” is not E (EHC plan), K (SEN support) or N", "sen", X)

# A roster CSV (keystage roster import): each at a row and a named column.
R = Place.CSV_ROW
ROSTER_HIDDEN_CHARACTERS = rule(
    "roster.hidden_characters",
    E,
    "the value runs over several lines or has hidden characters: check for a stray quote mark",
    "roster",
    R,
)
ROSTER_UPN_INVALID = rule("roster.upn_invalid", E, "{reason}", "upn", R)
ROSTER_UPN_DUPLICATE = rule("roster.upn_duplicate", E, "the same UPN is already on row {first}", "upn", R)
ROSTER_MISSING = rule("roster.missing", E, "{column} is missing", "roster", R)
ROSTER_TOO_LONG = rule("roster.too_long", E, "{column} is longer than {limit} characters", "roster", R)
ROSTER_DATE = rule("roster.date", E, "must be a real date, written YYYY-MM-DD or DD/MM/YYYY", "roster", R)
ROSTER_SEX = rule("roster.sex", E, "must be Female or Male (F or M)", "gender", R)
ROSTER_NC_YEAR = rule("roster.nc_year", E, "must be R or a year from 1 to 14", "nc_year", R)
ROSTER_YES_NO = rule("roster.yes_no", E, "must be Y or N", "roster", R)
ROSTER_SEN = rule("roster.sen", E, "must be E (EHC plan), K (SEN support) or N", "sen", R)
ROSTER_ETHNICITY = rule(
    "roster.ethnicity", E, "is not a DfE ethnicity code (e.g. WBRI, MWBC, AIND, BAFR, CHNE)", "ethnicity", R
)
ROSTER_KS2_SCORE = rule("roster.ks2_score", E, "must be a KS2 scaled score from 80 to 120", "prior", R)
ROSTER_KS1_CODE = rule("roster.ks1_code", E, "must be a KS1 teacher assessment code ({codes})", "prior", R)
ROSTER_DOB_NOT_PAST = rule("roster.dob_not_past", E, "is not in the past", "dob", R)

# DfE's KS4 catalogue files (keystage reference load-ks4): rows not read, by file, sheet and row.
F = Place.FILE
CATALOGUE_QAN_INVALID = rule(
    "catalogue.qan_invalid", E, "qualification number “{value}” is not valid", "catalogue", F
)
CATALOGUE_POINTS_UNREADABLE = rule(
    "catalogue.points_unreadable",
    E,
    "{qan}: grade “{grade}” with points “{value}” cannot be read",
    "catalogue",
    F,
)
CATALOGUE_POINTS_TWICE = rule(
    "catalogue.points_twice",
    E,
    "{qan}: grade {grade} scores both {kept} and {other}; kept {kept}",
    "catalogue",
    F,
)
CATALOGUE_DISCOUNT_CODE_UNREADABLE = rule(
    "catalogue.discount_code_unreadable",
    E,
    "qualification “{value}” with discount code “{code}” cannot be read",
    "catalogue",
    F,
)
CATALOGUE_DISCOUNT_CODE_TWICE = rule(
    "catalogue.discount_code_twice",
    E,
    "{qan} is listed again with discount code {code} (an earlier row has {kept}) and no syllabus to tell "
    "them apart; kept {kept}",
    "catalogue",
    F,
)
CATALOGUE_ARCHIVED_SHEET = rule(
    "catalogue.archived_sheet",
    E,
    "not read: archived qualifications are listed without their pillar (they counted in 2016 at the latest)",
    "catalogue",
    F,
)
CATALOGUE_PILLAR_TWICE = rule(
    "catalogue.pillar_twice",
    E,
    "{qan} also counts in the {kept} pillar in {year}; kept that one",
    "catalogue",
    F,
)
CATALOGUE_PILLAR_MARK = rule(
    "catalogue.pillar_mark", E, "{qan}: “{value}” under {year} is not Y or blank", "catalogue", F
)

# KS5 outcomes files (the KS4 to KS5 estimates): each refuses the file, naming its rows.
KS5_UNREADABLE = rule(
    "ks5.unreadable", E, "{file} cannot be read as a CSV or Parquet file: {reason}", "file", F
)
KS5_COLUMNS_MISSING = rule(
    "ks5.columns_missing",
    E,
    "{file} lacks the column(s) {missing}; see the format in the docs.",
    "structure",
    F,
)
# A kind of bad row: how many, and the first few ({rows}).
_KS5_ROWS = "{count} row(s) without {wanted} (row {rows})"
KS5_ROW_CHECKS = {
    wanted: rule(f"ks5.{name}", E, _KS5_ROWS.replace("{wanted}", wanted), "results", F)
    for name, wanted in (
        ("upn_invalid", "a UPN of 13 characters"),
        ("institution_invalid", "an institution's 7-digit DfE number"),
        ("sex_invalid", "sex M or F"),
        ("month_of_birth_invalid", "a month of birth 1-12"),
        ("disadvantaged_invalid", "disadvantaged Y or N"),
        ("ks4_aps_invalid", "a KS4 average point score from 0 to 9"),
        ("subject_missing", "a subject"),
        ("grade_invalid", "a grade A*, A, B, C, D, E or U"),
    )
}
KS5_NO_RESULTS = rule("ks5.no_results", E, "{file} has no results.", "results", F)
KS5_SUBJECT_TWICE = rule(
    "ks5.subject_twice",
    E,
    "a student has the same subject twice (rows {rows}); keep one result each.",
    "results",
    F,
)
KS5_ROWS_DISAGREE = rule(
    "ks5.rows_disagree",
    E,
    "{count} student(s) whose rows disagree on institution, sex, month of birth, disadvantage or KS4 "
    "average points ({upns}).",
    "results",
    F,
)
