"""Where DfE's published reference files are read from: one answer for every reader.

keystage ships DfE's files in ``data/dfe/`` (see its README.md for what each is, its publisher,
date and licence), laid out as a reference folder: ``ks4/dfe-2019/`` (the KS4 qualification
catalogue) and ``ks4/progress8/`` (Progress 8 estimates and SDs per release). An installation may
name a folder of its own with the same layout (the web service's ``KEYSTAGE_REFERENCE_DIR``); a
folder or file found there is read instead of the shipped one, and anything it lacks comes from
the shipped copy. Nothing else is ever looked at.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "data" / "dfe"

KS4_CATALOGUE = "ks4/dfe-2019"  # performance-points.xlsx, discount-codes.xlsx, ebacc-quals.xlsx
KS4_PROGRESS8 = "ks4/progress8"  # a8_estimates_*.csv, ebacc_pillar_estimates_*.csv, p8_sd_*.csv


def reference_path(relative: str, override: Path | str | None = None) -> Path:
    """The folder or file ``relative`` (e.g. ``KS4_CATALOGUE``) to read: the override folder's when
    it has it, else the shipped one. A folder is taken whole, never merged with the shipped one, so
    what is read is always one publisher's set."""
    parts = Path(relative)
    if parts.is_absolute() or ".." in parts.parts:
        raise ValueError(f"not a path inside a reference folder: {relative!r}")
    if override is not None and str(override):
        candidate = Path(override) / parts
        if candidate.exists():
            return candidate
    return SHIPPED_DIR / parts


def shipped_path(relative: str) -> Path:
    """The copy shipped with keystage, whatever an installation overrides."""
    return reference_path(relative, None)
