"""The local authority codes a UPN may carry (reference data: reference/data/la_codes/)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from keystage.core.refusals import Refused

LA_CODES_FILE = Path(__file__).parent.parent / "reference" / "data" / "la_codes" / "la_codes.csv"
STATUSES = ("current", "former", "wales", "pseudo")


class LACodesFileError(Refused, ValueError):
    """The LA codes file cannot be read; str() names the file, row and problem."""


@dataclass(frozen=True)
class IssuingAuthority:
    code: str
    name: str
    status: str  # current, former, wales or pseudo
    since: int | None = None
    until: int | None = None


def read_la_codes(path: Path) -> dict[str, IssuingAuthority]:
    """Every row of an LA codes file by its code, or LACodesFileError naming the row at fault."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as problem:
        raise LACodesFileError(f"{path}: cannot be read ({problem})") from None
    found: dict[str, IssuingAuthority] = {}
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        code, status = (row.get("code") or "").strip(), (row.get("status") or "").strip()
        if not (len(code) == 3 and code.isascii() and code.isdigit()):
            raise LACodesFileError(f"{path}, row {number}: the code must be 3 digits, not “{code}”")
        if status not in STATUSES:
            raise LACodesFileError(f"{path}, row {number}: the status must be one of {', '.join(STATUSES)}")
        if code in found:
            raise LACodesFileError(f"{path}, row {number}: code {code} is listed twice")
        try:
            since = int(row["since"]) if (row.get("since") or "").strip() else None
            until = int(row["until"]) if (row.get("until") or "").strip() else None
        except ValueError:
            raise LACodesFileError(f"{path}, row {number}: since and until must be years") from None
        found[code] = IssuingAuthority(code, (row.get("name") or "").strip(), status, since, until)
    return found


@cache
def issuing_authorities() -> dict[str, IssuingAuthority]:
    """The shipped list of LA codes that issue UPNs."""
    return read_la_codes(LA_CODES_FILE)


def is_issuing_code(code: str) -> bool:
    return code in issuing_authorities()
