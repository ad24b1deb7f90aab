"""Fuzzing the one validation engine (issue 9): whatever bytes arrive (noise, a real template with bytes
changed or cut off, CSV with stray quotes, NULs and BOMs, a CTF with its XML damaged) the answer is a
report of issues, never an exception, and the memory a file takes stays bounded.

The budget is small so that it runs in CI on every push (``FUZZ_EXAMPLES`` per test); a longer run is
the same tests with ``KEYSTAGE_FUZZ_EXAMPLES=5000``.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.results.fill import fill_template
from keystage.core.results.validation import validate_upload
from keystage.core.results.validation_report import ValidationReport
from tests.core.results.conftest import template

FUZZ_EXAMPLES = int(os.environ.get("KEYSTAGE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MOST_MEMORY = 64 * 1024 * 1024  # bytes any of these inputs (all under 1 MB) may take to check


def _answered(report: ValidationReport) -> None:
    """A report a person can read: JSON-able issues, each with a code and a message."""
    document = json.loads(json.dumps(report.as_dict()))
    assert isinstance(document["issues"], list)
    for issue in document["issues"]:
        assert issue["code"] and issue["message"]
    if not report.readable:
        assert not report.valid and report.issues


def _checked(data: bytes, layout) -> ValidationReport:
    tracemalloc.start()
    try:
        report = validate_upload(data, layout)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MOST_MEMORY, f"{peak / 1e6:.0f} MB for a {len(data):,}-byte file"
    _answered(report)
    return report


@FUZZ
@given(data=st.binary(max_size=4096))
def test_noise_is_answered_with_issues(layouts, data):
    _checked(data, layouts["phonics"])


@FUZZ
@given(
    changes=st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 10**7)),
)
def test_a_real_template_with_bytes_changed_or_cut_off_is_answered(layouts, changes, cut):
    layout = layouts["ks2-ta"]
    data = bytearray(fill_template(template(layout), layout, seed=3).data)
    for position, value in changes:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    _checked(bytes(data), layout)


_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['"', '""', "\x00", "\ufeff", "\r", "=1+1", "A*", "120", "-", "01/02/2014", "é"]),
)


@FUZZ
@given(
    rows=st.lists(st.lists(_CELL, max_size=14), max_size=30),
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]),
)
def test_csv_of_any_shape_is_answered(layouts, rows, encoding):
    layout = layouts["phonics"]
    headers = (
        ",".join(f.header for f in layout.pupil_fields) + "," + ",".join(s.header for s in layout.subjects)
    )
    text = headers + "\n" + "\n".join(",".join(row) for row in rows)
    data = text.encode(encoding, errors="replace")
    _checked(data, layout)


def _ctf() -> bytes:
    source = SchoolRef(la="800", estab="2001", name="School One")
    destination = SchoolRef(la="800", estab="LLLL", name="LA")
    header = CTFHeader(25, datetime(2025, 6, 20, 10, 30), "partial", "keystage", source, destination)
    pupils = [
        CTFPupil(build_upn("800", "2001", 15, n), "Smith", f"Pupil{n}", date(2018, 3, n), "F", nc_year="1")
        for n in range(1, 4)
    ]
    return write_ctf(CTFDocument(header, pupils))


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(list(b"<>&/\"'x\x00 ;!-[]"))), max_size=8
    ),
    entity=st.booleans(),
)
def test_a_damaged_ctf_is_answered(layouts, changes, entity):
    data = bytearray(_ctf())
    for position, value in changes:
        data[position % len(data)] = value
    if entity:  # an entity expansion attack: refused, never expanded
        data = bytearray(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b"<CTfile><Header>&c;</Header></CTfile>"
        )
    _checked(bytes(data), layouts["phonics"])
