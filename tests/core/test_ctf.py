"""The Common Transfer File: round trips, checks with element paths, and hostile or broken files."""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.core.ctf.model import (
    CTFDocument,
    CTFHeader,
    CTFPupil,
    SchoolRef,
    StageResult,
    ctf_filename,
    mapping_for,
)
from keystage.core.ctf.reader import CTFError, check_ctf, read_ctf
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn

SOURCE = SchoolRef(la="801", estab="2001", urn="100001", name="School One", academic_year=2024)
DEST = SchoolRef(la="801", estab="LLLL")
HEADER = CTFHeader(25, datetime(2025, 6, 20, 10, 30), "partial", "keystage", SOURCE, DEST)


def _mtc(score: str) -> StageResult:
    return StageResult("KS2", "ENG", "2025", "MAT", "TT", "MTC", "R", "MT", score, date(2025, 6, 14))


def _pupil(serial: int, **changes) -> CTFPupil:
    values = dict(
        upn=build_upn("801", "2001", 18, serial),
        surname="Brown",
        forename="Ann",
        date_of_birth=date(2014, 10, 8),
        sex="F",
        nc_year="6",
        ethnicity="WBRI",
        first_language="ENG",
        sen_provision="N",
        results=(_mtc("22"),),
    )
    values.update(changes)
    return CTFPupil(**values)


def test_a_written_file_reads_back_the_same_and_checks_clean():
    document = CTFDocument(HEADER, [_pupil(1), _pupil(2, sex="M", fsm_eligible=True, in_care=False)])
    data = write_ctf(document)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<CTfile>")
    read = check_ctf(data)
    assert read.document == document
    assert read.problems == []


def test_the_standard_file_name():
    assert ctf_filename(SOURCE, DEST, 1) == "8012001_CTF_801LLLL_001.xml"


def test_the_multiplication_tables_check_uses_the_confirmed_coding():
    entry = mapping_for(2025).entry_for("ks2_mtc")
    assert entry is not None and entry.confirmed
    assert entry.key == ("KS2", "MAT", "TT", "MTC", "MT")


def test_check_lists_every_problem_with_its_element_path_and_upn():
    bad = [
        _pupil(1, upn="A801200118001"),
        _pupil(2, surname="", sex="X"),
        _pupil(3, results=(_mtc("26"),)),
        _pupil(4, results=(StageResult("KS2", "ENG", "2025", "XXX", "TA", "", "", "KS2", "EXS"),)),
        _pupil(4),
    ]
    read = check_ctf(write_ctf(CTFDocument(HEADER, bad)))
    found = [(p.path, p.message.split(":")[0]) for p in read.problems]
    upn4 = build_upn("801", "2001", 18, 4)
    assert str(read.problems[0]).startswith("CTfile/CTFpupilData/Pupil[1]/UPN (UPN A801200118001)")
    assert ("CTfile/CTFpupilData/Pupil[2]/Surname", "Surname is missing") in found
    assert ("CTfile/CTFpupilData/Pupil[2]/Sex", "Sex “X” must be M or F") in found
    assert any(
        p.path.endswith("Pupil[3]/StageAssessments/StageAssessment[1]")
        and "“26” is not a valid result" in p.message
        for p in read.problems
    )
    assert any(
        p.path.endswith("Pupil[4]/StageAssessments/StageAssessment[1]") and "not in the mapping" in p.message
        for p in read.problems
    )
    assert any(p.upn == upn4 and "already Pupil[4]" in p.message for p in read.problems)


def test_a_bad_date_of_birth_is_a_problem_not_a_crash():
    data = write_ctf(CTFDocument(HEADER, [_pupil(1)])).replace(b"2014-10-08", b"2014-13-45")
    read = check_ctf(data)
    upn = build_upn("801", "2001", 18, 1)
    assert [str(p) for p in read.problems if p.path.endswith("DOB")] == [
        f"CTfile/CTFpupilData/Pupil[1]/DOB (UPN {upn}): “2014-13-45” is not a date like 2014-10-08"
    ]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<CTfile><Header><SupplierID>&lol4;</SupplierID></Header></CTfile>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE CTfile [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<CTfile><Header><SupplierID>&secret;</SupplierID></Header></CTfile>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<CTfile><Header><CTFversion>25.0</CTF", "not well-formed XML (line 1)"),
        (b"this is not xml at all", "not well-formed XML"),
        (BOMB, "declares a document type (DTD)"),
        (XXE, "declares a document type (DTD)"),
        (b"<?xml version='1.0'?><Pupils><Pupil/></Pupils>", "its root element is <Pupils>, not <CTfile>"),
        (b"<CTfile><CTFpupilData/></CTfile>", "has no Header"),
        (b"<CTfile><Header><CTFversion>10.0</CTFversion></Header></CTfile>", "CTFversion “10.0” is not one"),
        (b"", "The file is empty"),
    ],
)
def test_hostile_and_broken_files_get_one_clear_error(data, message):
    with pytest.raises(CTFError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_ctf(data)


def test_the_external_entity_is_never_fetched_or_expanded():
    with pytest.raises(CTFError) as caught:
        read_ctf(XXE)
    assert "root:" not in str(caught.value)


def test_a_200_mb_file_is_refused_at_once_without_reading_it(tmp_path: Path):
    big = tmp_path / "huge.xml"
    with big.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing to read
    started = time.perf_counter()
    with pytest.raises(CTFError, match="The file is 200 MB, larger than the 150 MB a CTF may be"):
        read_ctf(big)
    assert time.perf_counter() - started < 1  # refused by size, not by reading


def test_a_stream_of_unknown_size_is_cut_off_at_the_limit():
    import io

    endless = io.BytesIO(b"<CTfile><Header>" + b"<!-- padding -->" * 100_000)
    with pytest.raises(CTFError, match="larger than the 1 MB a CTF may be"):
        read_ctf(endless, max_bytes=1024 * 1024)


def test_a_large_file_streams_in_bounded_memory(tmp_path: Path):
    """80,000 pupils (~50 MB) streamed in a fresh process that grows by far less than the file."""
    import subprocess
    import sys

    pupil = write_ctf(CTFDocument(HEADER, [_pupil(1)]))
    start, end = pupil.index(b"<Pupil>"), pupil.index(b"</CTFpupilData>")
    path = tmp_path / "big.xml"
    with path.open("wb") as handle:
        handle.write(pupil[:start])
        for _ in range(80_000):
            handle.write(pupil[start:end])
        handle.write(pupil[end:])
    size_mb = path.stat().st_size / (1024 * 1024)
    probe = (
        "import resource, sys\n"
        "from keystage.core.ctf.reader import CTFStream\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "count = sum(1 for _ in CTFStream(__import__('pathlib').Path(sys.argv[1])))\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(count, (after - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    count, grown_mb = out.stdout.split()
    assert int(count) == 80_000 and size_mb > 40
    assert float(grown_mb) < 20, f"grew {grown_mb} MB reading a {size_mb:.0f} MB file"


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=15,
)


@st.composite
def documents(draw):
    pupils = []
    for serial in draw(st.lists(st.integers(0, 999), min_size=0, max_size=6, unique=True)):
        results = tuple(_mtc(str(score)) for score in draw(st.lists(st.integers(0, 25), max_size=2)))
        pupils.append(
            CTFPupil(
                upn=build_upn("801", "2001", 18, serial),
                surname=draw(names),
                forename=draw(names),
                date_of_birth=draw(st.dates(date(2005, 1, 1), date(2022, 12, 31))),
                sex=draw(st.sampled_from("MF")),
                nc_year=draw(st.sampled_from(["R", "1", "6", "11"])),
                ethnicity=draw(st.sampled_from(["", "WBRI", "BAFR"])),
                first_language=draw(st.sampled_from(["", "ENG", "POL"])),
                sen_provision=draw(st.sampled_from(["", "E", "K", "N"])),
                fsm_eligible=draw(st.sampled_from([None, True])),
                in_care=draw(st.sampled_from([None, True, False])),
                results=results,
            )
        )
    version = draw(st.integers(17, 26))
    header = CTFHeader(version, datetime(2000 + version, 6, 20, 10, 30), "partial", "keystage", SOURCE, DEST)
    return CTFDocument(header, pupils)


@settings(max_examples=80, deadline=None)
@given(documents())
def test_any_document_written_and_read_back_is_the_same(document):
    assert read_ctf(write_ctf(document)).document == document


def _wrap(inner: bytes) -> bytes:
    head = write_ctf(CTFDocument(HEADER, []))
    return head.replace(b"<CTFpupilData/>", b"<CTFpupilData>" + inner + b"</CTFpupilData>")


def test_elements_outside_pupils_are_freed_as_they_are_read(tmp_path: Path):
    """Junk outside any pupil (here ~40 MB of it) never accumulates in memory."""
    import subprocess
    import sys

    path = tmp_path / "junk.xml"
    data = write_ctf(CTFDocument(HEADER, [_pupil(1)]))
    with path.open("wb") as handle:
        handle.write(data.replace(b"</CTfile>", b""))
        for _ in range(10):
            handle.write(b"<Junk>" + b"<a/>" * 1_000_000 + b"</Junk>")
        handle.write(b"</CTfile>")
    probe = (
        "import resource, sys, pathlib\n"
        "from keystage.core.ctf.reader import read_ctf\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "read = read_ctf(pathlib.Path(sys.argv[1]))\n"
        "grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024\n"
        "print(len(read.document.pupils), grown)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    pupils, grown_mb = out.stdout.split()
    assert pupils == "1" and float(grown_mb) < 50, out.stdout


def test_a_pupil_or_header_swollen_with_elements_is_refused():
    swollen = _wrap(b"<Pupil><UPN>x</UPN>" + b"<a/>" * 6000 + b"</Pupil>")
    with pytest.raises(CTFError, match=re.escape("Pupil[1] has more than 5000 elements")):
        read_ctf(swollen)
    header = write_ctf(CTFDocument(HEADER, [])).replace(b"</Header>", b"<a/>" * 300 + b"</Header>")
    with pytest.raises(CTFError, match="the Header has more than 200 elements"):
        read_ctf(header)


def test_pupils_wrapped_in_an_unexpected_element_are_reported_not_silently_lost():
    read = read_ctf(_wrap(b"<Wrapper><Pupil><UPN>A</UPN></Pupil></Wrapper>"))
    assert read.document.pupils == []
    assert [str(p) for p in read.problems] == [
        "CTfile/CTFpupilData/Wrapper: <Wrapper> is not a Pupil: its contents were not read"
    ]


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        (
            (b"<CTFversion>25.0</CTFversion>", b"<CTFversion>1e999</CTFversion>"),
            "CTFversion “1e999” is not one",
        ),
        ((b"<CTFversion>25.0</CTFversion>", b"<CTFversion>inf</CTFversion>"), "CTFversion “inf” is not one"),
    ],
)
def test_numbers_that_overflow_are_clear_errors(change, outcome):
    data = write_ctf(CTFDocument(HEADER, [_pupil(1)])).replace(*change)
    with pytest.raises(CTFError, match=outcome):
        read_ctf(data)


def test_odd_values_are_problems_not_crashes():
    data = write_ctf(CTFDocument(HEADER, [_pupil(1, results=(_mtc("inf"),))]))
    data = data.replace(b"<AcademicYear>2024</AcademicYear>", "<AcademicYear>²</AcademicYear>".encode())
    read = check_ctf(data)
    assert read.document.header.source.academic_year is None
    assert any("“inf” is not a valid result" in p.message for p in read.problems)


def test_fsm_counts_only_within_the_last_six_years():
    stale = (
        b"<FSMhistory><FSMinstance><FSMstartDate>2010-01-01</FSMstartDate>"
        b"<FSMendDate>2012-01-01</FSMendDate></FSMinstance></FSMhistory>"
    )
    recent = b"<FSMhistory><FSMinstance><FSMstartDate>2022-01-01</FSMstartDate></FSMinstance></FSMhistory>"
    for block, expected in ((stale, False), (recent, True)):
        data = write_ctf(CTFDocument(HEADER, [_pupil(1)])).replace(
            b"</BasicDetails>", b"</BasicDetails>" + block
        )
        assert read_ctf(data).document.pupils[0].fsm_eligible is expected
