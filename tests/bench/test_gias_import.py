"""The GIAS benchmark's generated file and its judge (the benchmark itself runs at national size, so is
not run here): the file reads clean with a national mix, and the verdict says PASS only when due."""

from __future__ import annotations

from collections import Counter

from bench.gias_import import national_records, verdict
from keystage.core.organisations.gias import read_gias
from keystage.core.organisations.gias_format import GIAS_COLUMNS, write_gias_csv


def test_the_generated_file_has_a_national_mix_and_reads_without_a_problem():
    records = national_records(rows=5000, seed=3)
    assert len(records) == 5000 and len({r["URN"] for r in records}) == 5000
    data = write_gias_csv(records)
    assert len(data) / len(records) > 1000  # rows as long as DfE's (about 1.3 kB)
    assert "\u2019".encode("cp1252") in data  # a curly apostrophe, in DfE's encoding
    parsed = read_gias(data)
    assert parsed.ok and parsed.rows == 5000
    open_schools = [s for s in parsed.schools if s.is_open]
    assert 2200 <= len(open_schools) <= 2600  # about 24,000 of 50,000
    types = Counter(s.school_type for s in open_schools)
    assert types["maintained"] > types["academy"] > types["free_school"] > 0
    assert 150 <= len(parsed.trusts) <= 250 and 140 <= len(parsed.las) <= 170
    reasons = Counter(s.reason.split(":")[0] for s in parsed.skipped)
    assert reasons["Children's centre is not taken"] > 0 and reasons["Proposed to open"] > 0
    assert reasons["Other independent school is not taken"] > 0
    # Closed predecessors share their academies' DfE numbers.
    open_numbers = {s.dfe_number for s in open_schools}
    assert sum(1 for s in parsed.schools if not s.is_open and s.dfe_number in open_numbers) > 300
    assert len(GIAS_COLUMNS) == 139


def test_the_verdict():
    unchanged = {"created": 0, "updated": 0}
    assert [line[:4] for line in verdict(8.0, 1.0, unchanged)] == ["PASS", "PASS", "PASS"]
    assert [line[:4] for line in verdict(31.0, 4.0, unchanged)] == ["FAIL", "PASS", "PASS"]
    assert [line[:4] for line in verdict(12.0, 1.0, {"created": 0, "updated": 3})] == ["PASS", "FAIL", "FAIL"]
