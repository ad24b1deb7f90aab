"""A file's kind comes from its content, never its name: what keystage serves to schools is a PDF, an
Excel or OpenDocument workbook, a CSV, a CTF or a ZIP, and a web page, a script or a macro workbook is
none of them whatever it is called."""

from __future__ import annotations

import io
import zipfile

import pytest
import xlsxwriter

from keystage.core import file_kinds


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _xlsx() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.add_worksheet().write_string(0, 0, "Summary")
    book.close()
    return out.getvalue()


KINDS = {
    "a PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", file_kinds.PDF),
    "an Excel workbook": (_xlsx(), file_kinds.XLSX),
    "an OpenDocument spreadsheet": (
        _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
        file_kinds.ODS,
    ),
    "a CSV": (b"UPN,Surname,Mark\r\nA123,Smith,35\r\nA124,Jones,40\r\n", file_kinds.CSV),
    "a CSV in Windows-1252 with a BOM-less accent": ("UPN;Nom\nA1;Zo\xeb\n".encode("cp1252"), file_kinds.CSV),
    "a CTF": (b'<?xml version="1.0" encoding="UTF-8"?>\n<CTfile><Header/></CTfile>', file_kinds.CTF),
    "a ZIP of reports": (_zip({"school-one.pdf": b"%PDF-1.7"}), file_kinds.ZIP),
}
REFUSED = {
    "a web page": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "a web page without a doctype": b"  <html><body onload=alert(1)>",
    "an SVG": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
    "a script": b"#!/bin/sh\nrm -rf /\n",
    "a program": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
    "a macro workbook": _zip({"xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"\x00"}),
    "a Word document": _zip({"word/document.xml": b"<w/>"}),
    "an old Word document": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
    "a broken ZIP": b"PK\x03\x04 not really",
    "one line of text": b"hello",
    "nothing": b"",
}


@pytest.mark.parametrize("label", KINDS)
def test_each_kind_served_is_told_by_its_content(label):
    data, kind = KINDS[label]
    source = io.BytesIO(data)
    assert file_kinds.kind_of(source) is kind
    assert source.tell() == 0  # left at the start, to be stored whole


@pytest.mark.parametrize("label", REFUSED)
def test_anything_else_is_no_kind_served(label):
    assert file_kinds.kind_of(io.BytesIO(REFUSED[label])) is None


def test_a_download_is_named_as_its_content_is():
    assert file_kinds.download_name("summary.pdf", file_kinds.PDF) == "summary.pdf"
    assert file_kinds.download_name("summary.html", file_kinds.PDF) == "summary.html.pdf"
    assert file_kinds.download_name("REPORT.XLSX", file_kinds.XLSX) == "REPORT.XLSX"
