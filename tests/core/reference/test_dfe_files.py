"""DfE's files ship inside keystage: each one its README lists is there and reads, and a reference
folder of an installation's own is read instead only where it has a folder."""

from __future__ import annotations

import re
import shutil

import pytest

from keystage.core.measures.ks4.estimates import (
    available_releases,
    load_dfe_estimates,
    load_dfe_pillar_estimates,
)
from keystage.core.reference.dfe_files import (
    KS4_CATALOGUE,
    KS4_PROGRESS8,
    SHIPPED_DIR,
    reference_path,
    shipped_path,
)
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder


def test_every_file_the_readme_lists_is_shipped_and_every_shipped_file_is_listed():
    readme = (SHIPPED_DIR / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z0-9_-]+\.(?:xlsx|csv))`", readme))
    shipped = {p.name for p in SHIPPED_DIR.rglob("*") if p.suffix in {".xlsx", ".csv"}}
    assert listed == shipped and len(shipped) == 15
    assert "Open Government Licence v3.0" in readme and "Department for Education" in readme


def test_the_shipped_catalogue_and_every_progress8_release_read():
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    assert len(catalogue.qualifications) == 1418
    folder = shipped_path(KS4_PROGRESS8)
    assert available_releases(folder) == ["2022rev", "2023prov", "2023rev", "2024prov"]
    for release in available_releases(folder):
        assert load_dfe_estimates(folder, release).by_pag.height == 34
        assert load_dfe_pillar_estimates(folder, release).height == 34


def test_an_installations_folder_is_read_where_it_has_one_and_the_shipped_one_otherwise(tmp_path):
    assert reference_path(KS4_CATALOGUE) == SHIPPED_DIR / "ks4" / "dfe-2019"
    assert reference_path(KS4_CATALOGUE, tmp_path) == shipped_path(KS4_CATALOGUE)  # it has none
    assert reference_path(KS4_CATALOGUE, "") == shipped_path(KS4_CATALOGUE)
    own = tmp_path / "ks4" / "progress8"
    shutil.copytree(shipped_path(KS4_PROGRESS8), own)
    assert reference_path(KS4_PROGRESS8, tmp_path) == own
    assert reference_path(KS4_CATALOGUE, tmp_path) == shipped_path(KS4_CATALOGUE)
    with pytest.raises(ValueError, match="not a path inside a reference folder"):
        reference_path("../ks4", tmp_path)
