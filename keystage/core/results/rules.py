"""Every rule an upload is checked against, declared once: a stable code, a severity, a plain
message template and the columns it concerns. The engine (``validation.py``) raises issues only
through these, so the CLI, the API, the upload page and the error workbook all say the same thing.

Codes are stable: scripts and MIS vendors match on them. Change a message freely; never reuse a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the file cannot be used until it is fixed
    WARNING = "warning"  # the file is used; keystage read the value as the message says


@dataclass(frozen=True)
class Issue:
    """One problem, where the spreadsheet user sees it: row 1-based, column as a letter."""

    code: str
    severity: Severity
    message: str
    row: int | None = None
    column: str | None = None
    column_header: str | None = None
    value: str = ""
    pupil: str = ""  # whom it concerns, as the file names them: "UPN A123..., Smith, Ann" (CTFs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "column_header": self.column_header,
            "value": self.value,
            "pupil": self.pupil,
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
        }

    @property
    def where(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            header = f" ({self.column_header})" if self.column_header else ""
            parts.append(f"column {self.column}{header}")
        return ", ".join(parts) or "whole file"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    message: str  # a str.format template; {value} is the cell as written, {header} its column
    concerns: str  # which columns: "file", "structure", a pupil field, or "results"

    def issue(
        self,
        *,
        row: int | None = None,
        column: str | None = None,
        header: str | None = None,
        value: object = "",
        **details: object,
    ) -> Issue:
        text = "" if value is None else str(value)
        message = self.message.format(value=text, header=header or "", **details)
        return Issue(self.code, self.severity, message, row, column, header, text)


RULES: dict[str, Rule] = {}


def rule(code: str, severity: Severity, message: str, concerns: str) -> Rule:
    if code in RULES:
        raise ValueError(f"rule {code} is declared twice")
    RULES[code] = declared = Rule(code, severity, message, concerns)
    return declared


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
