"""The reference data a platform's measures are worked out with: DfE's Progress 8 releases (shipped, or
loaded in /admin/), the estimates chosen for a year, and the KS4 catalogue.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from django.conf import settings

from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.measures.pipeline import (
    MeasuresError,
)
from keystage.core.reference.ks4_catalogue import Catalogue, CatalogueFileError, import_dfe_2019_folder
from keystage.reference_data import services as reference
from keystage.reference_data.services import loaded_ks4_catalogue

logger = logging.getLogger(__name__)
PLATFORM = "platform"
_RELEASE_WORDS = {"prov": "provisional", "rev": "revised", "final": "final"}


def progress8_folder() -> Path:
    """DfE's Progress 8 releases: those keystage ships (or KEYSTAGE_REFERENCE_DIR's) with those
    platform staff loaded in /admin/ (keystage.reference_data.services.progress8_folder)."""
    return reference.progress8_folder()


def progress8_base_folder() -> Path:
    """The Progress 8 files alone (shipped, or KEYSTAGE_REFERENCE_DIR's), without the releases loaded
    into the database."""
    return reference.progress8_base_folder()


def catalogue_folder() -> Path:
    """DfE's KS4 catalogue files: KEYSTAGE_REFERENCE_DIR's, else those keystage ships."""
    return reference.ks4_catalogue_folder()


def estimates_name(release: str) -> str:
    """The name people choose estimates by: "2024prov" -> "dfe-2024-provisional"."""
    year, kind = release[:4], release[4:]
    return f"dfe-{year}-{_RELEASE_WORDS.get(kind, kind)}" if kind else f"dfe-{year}"


def estimates_names(folder: Path | None = None) -> dict[str, str]:
    """Every DfE release in the folder by its name, oldest first: {"dfe-2024-provisional": "2024prov"}."""
    releases = ks4_estimates.available_releases(folder or progress8_folder())
    return {estimates_name(release): release for release in releases}


def default_estimates(year: int | None, folder: Path | None = None, *, otherwise: str = PLATFORM) -> str:
    """The estimates the platform administrator chose for the year (KEYSTAGE_KS4_ESTIMATES, e.g.
    "2024=dfe-2024-provisional,2026=platform"); else DfE's for the year where published (revised
    before provisional); otherwise ``otherwise``: "platform", or "newest" for the newest DfE release."""
    chosen = settings.KEYSTAGE_KS4_ESTIMATES.get(year) if year is not None else None
    if chosen:
        return str(chosen)
    names = estimates_names(folder)
    of_year = [name for name, release in names.items() if year is not None and release.startswith(str(year))]
    if of_year:
        return of_year[-1]
    if otherwise == "newest" and names:
        return list(names)[-1]
    return PLATFORM


def catalogue_from(folder: Path | None) -> tuple[Catalogue, str]:
    """The KS4 catalogue and where it came from: DfE's files in ``folder``; with no folder, the
    catalogue loaded into the database (a newer year's if platform staff loaded one; DfE's shipped
    files, loaded first if the database has none)."""
    if folder is not None:
        if not Path(folder).is_dir():
            raise MeasuresError(f"The catalogue folder {folder} does not exist.")
        try:
            return import_dfe_2019_folder(Path(folder)), str(folder)
        except (CatalogueFileError, OSError, ValueError) as error:
            raise MeasuresError(f"The KS4 catalogue in {folder} cannot be read: {error}") from None
    return database_catalogue(), "the database"


def database_catalogue() -> Catalogue:
    catalogue = loaded_ks4_catalogue()
    if not catalogue.qualifications:
        # Loaded at migrate; a database that somehow has none gets the shipped files at first use.
        with contextlib.suppress(CatalogueFileError, OSError):
            reference.ensure_ks4_catalogue()
        catalogue = loaded_ks4_catalogue()
    if not catalogue.qualifications:
        raise MeasuresError(
            "The KS4 qualification catalogue has not been loaded. A platform administrator loads it with "
            "keystage reference load-ks4, or give --catalogue with DfE's files."
        )
    return catalogue
