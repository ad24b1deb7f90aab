"""Uploaded files to a grid of cells, whatever they are: .xlsx, .xls, .ods, CSV (any common
encoding or delimiter), or a CTF (recognised, handed to the CTF reader).

The format is decided by the bytes, not the name: a school's "results.xlsx" may be a CSV. Before
a workbook is opened its zip directory is read, so a file that would unpack to gigabytes (a zip
bomb) or that is password-protected is refused with a clear message instead of being parsed.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Literal, cast

from lxml import etree
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.rules import Issue

Format = Literal["xlsx", "xls", "ods", "csv", "ctf"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# A real template unpacks to a few MB (300 pupils x 130 subjects is about 2 MB of XML).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 150  # spreadsheet XML compresses 10-20x; far more is a bomb

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


class UnreadableFileError(Refused):
    """The file cannot be read at all; ``issue`` says why, for the user."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


@dataclass
class Grid:
    format: Format
    rows: list[list[object]]
    sheet: str = ""
    notes: list[Issue] = field(default_factory=list)  # warnings from reading, e.g. the encoding


def detect_format(data: bytes) -> Format:
    if data.startswith(b"PK\x03\x04"):
        return "ods" if b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" in data[:200] else "xlsx"
    if data.startswith(_OLE_MAGIC):
        return "xls"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") or head.startswith(b"<CTfile"):
        return "ctf"
    return "csv"


def check_size(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    if not data:
        raise UnreadableFileError(rules.FILE_EMPTY.issue())
    if len(data) > max_bytes:
        raise UnreadableFileError(rules.FILE_TOO_LARGE.issue(size=_mb(len(data)), limit=_mb(max_bytes)))


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f}" if size >= 1024 * 1024 else f"{size / 1024 / 1024:.2f}"


def read_grid(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Grid:
    """The results sheet of a workbook, or a CSV's rows. Raises UnreadableFileError."""
    check_size(data, max_bytes)
    kind = detect_format(data)
    if kind == "csv":
        return _read_csv(data)
    if kind == "ctf":
        raise ValueError("a CTF is read with keystage.core.ctf.reader, not as a grid")
    if kind == "xls" and _ENCRYPTED_STREAM in data:
        raise UnreadableFileError(rules.FILE_PASSWORD.issue())
    if kind in ("xlsx", "ods"):
        _check_archive(data)
    return _read_workbook(data, kind)


def _check_archive(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise UnreadableFileError(
            rules.FILE_UNREADABLE.issue(kind="a workbook", reason=f"it is damaged ({error})")
        ) from None
    unpacked = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if unpacked > MAX_UNPACKED_BYTES or (unpacked > 10 * 1024 * 1024 and unpacked / packed > MAX_RATIO):
        raise UnreadableFileError(rules.FILE_BOMB.issue(size=_mb(unpacked)))


def _read_workbook(data: bytes, kind: Format) -> Grid:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = [m.name for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        name = "Results" if "Results" in names else (names[0] if names else workbook.sheet_names[0])
        rows = cast(list[list[object]], workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
    except CalamineError as error:
        if "password" in str(error).lower() or type(error).__name__ == "PasswordError":
            raise UnreadableFileError(rules.FILE_PASSWORD.issue()) from None
        raise UnreadableFileError(
            rules.FILE_UNREADABLE.issue(kind=f"an {kind} workbook", reason=_short(error))
        ) from None
    except (IndexError, ValueError, OSError) as error:
        raise UnreadableFileError(
            rules.FILE_UNREADABLE.issue(kind=f"an {kind} workbook", reason=_short(error))
        ) from None
    grid = Grid(kind, rows, name)
    if kind == "xlsx":
        grid.notes.extend(
            rules.FORMULA_WITHOUT_VALUE.issue(row=row, column=column, value=formula)
            for row, column, formula in formulas_without_values(data, name)
        )
    return grid


_LOOKS_LIKE_UPN = re.compile(r"[A-Z]\d{11}[0-9A-Z]")


def sheets_holding_upns(data: bytes, *, besides: str) -> list[tuple[str, int]]:
    """The workbook's other worksheets that hold what look like UPNs, with how many, most first: where
    a school moved its pupils when the results sheet has none. Empty for a file that is not a
    workbook or cannot be read again."""
    if detect_format(data) not in ("xlsx", "ods", "xls"):
        return []
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = [m.name for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        found = []
        for name in names:
            if name == besides:
                continue
            rows = workbook.get_sheet_by_name(name).to_python()
            count = sum(
                1
                for row in rows
                for cell in row
                if isinstance(cell, str) and _LOOKS_LIKE_UPN.fullmatch(cell.strip())
            )
            if count:
                found.append((name, count))
    except (CalamineError, IndexError, ValueError, OSError):
        return []
    return sorted(found, key=lambda sheet: -sheet[1])


_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)")
_HAS_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def formulas_without_values(data: bytes, sheet: str) -> list[tuple[int, str, str]]:
    """The sheet's cells that hold a formula but no saved value (row, column letters, formula): what a
    tool that writes formulas without working them out leaves, and what would otherwise read as blank.
    Empty when the workbook's parts cannot be found (calamine read it; nothing more is claimed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            path = _sheet_part(archive, sheet)
            if path is None:
                return []
            sheet_xml = archive.read(path)
            if not _HAS_FORMULA.search(sheet_xml):  # most files: no formula at all, nothing to parse
                return []
            found = []
            with io.BytesIO(sheet_xml) as part:
                cells = etree.iterparse(part, tag=f"{_SHEET_NS}c", resolve_entities=False, no_network=True)
                for _, cell in cells:
                    formula = cell.find(f"{_SHEET_NS}f")
                    value = cell.find(f"{_SHEET_NS}v")
                    has_value = value is not None and (value.text or "") != ""
                    if formula is not None and not has_value and cell.get("t") != "inlineStr":
                        place = _CELL_REF.fullmatch(cell.get("r", ""))
                        if place is not None:
                            found.append((int(place[2]), place[1], "=" + (formula.text or "")))
                    cell.clear()
            return found
    except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError):
        return []


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the named worksheet, by the workbook's relationships."""
    relationships = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    book = etree.fromstring(archive.read("xl/workbook.xml"), parser)
    target_id = next(
        (s.get(relationships) for s in book.iter(f"{_SHEET_NS}sheet") if s.get("name") == sheet), None
    )
    if target_id is None:
        return None
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), parser)
    for rel in rels:
        if rel.get("Id") == target_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _short(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) < 160 else text[:157] + "…"


def _decode(data: bytes) -> tuple[str, str | None]:
    """The text and, when it was not UTF-8, the encoding it was read as."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:  # what Excel writes for "CSV (Comma delimited)" on a UK Windows machine
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _read_csv(data: bytes) -> Grid:
    text, encoding = _decode(data)
    if "\x00" in text:
        raise UnreadableFileError(rules.FILE_TYPE.issue(reason="it holds binary data"))
    sample = text[:8192]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows: list[list[object]] = [
            list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    except csv.Error as error:
        raise UnreadableFileError(rules.FILE_UNREADABLE.issue(kind="CSV", reason=_short(error))) from None
    notes = [rules.FILE_ENCODING.issue(encoding=encoding)] if encoding else []
    return Grid("csv", rows, "", notes)
