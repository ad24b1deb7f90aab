"""What a file is, read from its content (never its name): the kinds keystage serves to schools.

An LA publishes reports back to its schools; a school's browser then opens what it downloads. A file
is accepted only as one of these kinds, told by its bytes: a PDF, an Excel workbook (.xlsx, or the
older .xls), an OpenDocument spreadsheet, a CSV, a Common Transfer File (XML whose root is CTfile), or
a ZIP. Anything else (a web page, a script, a program, a Word document) is refused with a message.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from typing import IO

from python_calamine import CalamineWorkbook


@dataclass(frozen=True)
class FileKind:
    name: str  # for people: "PDF", "Excel workbook"
    extension: str  # the name a download is given ends with this
    content_type: str


PDF = FileKind("PDF", ".pdf", "application/pdf")
XLSX = FileKind(
    "Excel workbook", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)
XLS = FileKind("Excel 97-2003 workbook", ".xls", "application/vnd.ms-excel")
ODS = FileKind("OpenDocument spreadsheet", ".ods", "application/vnd.oasis.opendocument.spreadsheet")
CSV = FileKind("CSV", ".csv", "text/csv; charset=utf-8")
CTF = FileKind("Common Transfer File (XML)", ".xml", "application/xml")
ZIP = FileKind("ZIP", ".zip", "application/zip")

ALLOWED_KINDS = "PDF, Excel (.xlsx or .xls), OpenDocument spreadsheet, CSV, CTF (XML) or ZIP"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .xls (and of .doc, told apart below)
_CTF_ROOT = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<CTfile[\s>]", re.S)
_SNIFF_BYTES = 64 * 1024


def kind_of(source: IO[bytes]) -> FileKind | None:
    """The kind of the (seekable) file, or None when it is none of the kinds served. Reads from the
    start and leaves the file at the start."""
    source.seek(0)
    head = source.read(_SNIFF_BYTES)
    source.seek(0)
    try:
        if head.startswith(b"%PDF-"):
            return PDF
        if head.startswith(b"PK\x03\x04"):
            return _zip_kind(source)
        if head.startswith(_OLE2):
            return XLS if _is_workbook(source) else None
        text = head.removeprefix(b"\xef\xbb\xbf")
        if _CTF_ROOT.match(text):
            return CTF
        if _looks_like_csv(text):
            return CSV
        return None
    finally:
        source.seek(0)


def _zip_kind(source: IO[bytes]) -> FileKind | None:
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return None if "xl/vbaProject.bin" in names else XLSX  # no macros reach a school
            if "mimetype" in names and archive.read("mimetype").strip() == ODS.content_type.encode():
                return ODS
            if any(n.startswith(("word/", "ppt/")) for n in names) or "mimetype" in names:
                return None  # an Office document or another OpenDocument: not a kind served
            return ZIP
    except (zipfile.BadZipFile, OSError, EOFError):
        return None


def _is_workbook(source: IO[bytes]) -> bool:
    try:
        CalamineWorkbook.from_filelike(io.BytesIO(source.read()))
    except Exception:  # calamine's errors for any file that is not a workbook
        return False
    return True


def _looks_like_csv(head: bytes) -> bool:
    """Text (UTF-8 or Windows-1252), no NUL, not markup, and rows of two or more columns."""
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:  # a character cut at the end of what was read
            text = head[: error.start].decode("utf-8")
        else:
            text = head.decode("cp1252", errors="replace")
    stripped = text.lstrip()
    if not stripped or stripped.startswith("<"):
        return False
    lines = [line for line in stripped.splitlines() if line.strip()][:20]
    if len(lines) > 1 and len(head) == _SNIFF_BYTES:
        lines = lines[:-1]  # the last line read may be cut short
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines, dialect)}
    return min(widths) >= 2


def download_name(filename: str, kind: FileKind) -> str:
    """The name a download is given: the person's name, ending as its content is (a PDF named
    ``report.html`` downloads as ``report.html.pdf``)."""
    if filename.lower().endswith(kind.extension):
        return filename
    return f"{filename}{kind.extension}"
