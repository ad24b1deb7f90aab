"""Upload validation: parse and validate a filled GCSE template (300 pupils x ~130 subjects, as
DfE's catalogue gives them) and compare, in the same run, with reading the same file with
openpyxl and with a bare python-calamine read (the floor).

    keystage bench validate [--pupils 300] [--repeat 7] [--reference FOLDER]

Goal: ours under 3x the bare read. The file is a keystage template filled by XlsxWriter with a
grade in a third of the cells (a typical school enters 8-10 of 130 subjects per pupil; a third is
harsher) and a few errors of each kind, so every rule path runs.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from keystage.core.pupils.model import build_upn
from keystage.core.reference.dfe_files import KS4_CATALOGUE, reference_path
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.results.kinds import KINDS
from keystage.core.results.layout import TemplateLayout, ks4_layout
from keystage.core.results.roster import UploadContext
from keystage.core.results.validation import validate_upload
from keystage.core.results.workbooks import TemplatePupil, write_template

# The KS4 catalogue files keystage ships (or those of KEYSTAGE_REFERENCE_DIR, where it has them).
DEFAULT_REFERENCE = reference_path(KS4_CATALOGUE, os.environ.get("KEYSTAGE_REFERENCE_DIR") or None)


def filled_template(pupils: int, reference: Path, seed: int = 1) -> tuple[bytes, TemplateLayout]:
    layout = ks4_layout(
        KINDS["ks4-gcse"],
        2026,
        import_dfe_2019_folder(reference),
        FrameworkLibrary.from_directory().for_year("ks4-gcse", 2026),
    )
    roster = [
        TemplatePupil(
            build_upn("800", "4001", 10 + n // 1000, n % 1000),  # 1,000 serials per issue year
            f"Pupil{n}",
            "Smith",
            date(2010, 1 + n % 12, 1 + n % 28),
            "FM"[n % 2],
            11,
        )
        for n in range(pupils)
    ]
    template = write_template(
        layout, roster, school_name="Bench School", dfe="8004001", made_on=date(2026, 6, 1)
    )
    rng = random.Random(seed)
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book["Results"]
    first = len(layout.pupil_fields) + 1
    for row in range(layout.heading_row + 1, layout.heading_row + 1 + pupils):
        for offset, column in enumerate(layout.subjects):
            if rng.random() < 1 / 3:
                value = rng.choice(column.outcomes)
                if rng.random() < 0.01:
                    value = rng.choice(["5-4", "A*", "u", "7 ", "7.5", "X"])
                sheet.cell(row, first + offset).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), layout


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pupils", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="folder of the KS4 catalogue files"
    )
    args = parser.parse_args()
    data, layout = filled_template(args.pupils, args.reference)
    context = UploadContext(school_dfe="8004001", school_name="Bench School")

    def bare() -> object:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return book.get_sheet_by_name("Results").to_python(skip_empty_area=False)

    def with_openpyxl() -> object:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        return [row for row in book["Results"].iter_rows(values_only=True)]

    def ours() -> object:
        return validate_upload(data, layout, context)

    report = validate_upload(data, layout, context)
    floor, openpyxl_read, validation = (best_of(args.repeat, f) for f in (bare, with_openpyxl, ours))
    print(
        f"File: {len(data) / 1024:.0f} KB, {args.pupils} pupils x {len(layout.subjects)} subjects; "
        f"{len(report.issues)} issues found ({len(report.errors)} errors)."
    )
    print(f"bare python-calamine read : {floor * 1000:8.1f} ms")
    print(f"openpyxl read (read-only) : {openpyxl_read * 1000:8.1f} ms")
    print(f"keystage parse + validate : {validation * 1000:8.1f} ms")
    print(f"ratio ours / bare read    : {validation / floor:8.2f}x  (goal: under 3x)")
    print(f"ratio ours / openpyxl read: {validation / openpyxl_read:8.2f}x  (below 1 is faster)")


if __name__ == "__main__":
    main()
