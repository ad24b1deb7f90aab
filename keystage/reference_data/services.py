"""Loading reference data into the database: one function per load, each in one transaction and
recorded in the import log.

DfE's files ship with keystage (keystage.core.reference.dfe_files): the KS4 catalogue is loaded from
them into an empty database at ``migrate`` (``ensure_ks4_catalogue``), and the Progress 8 estimates
are read from them. A newer year's files are uploaded by platform staff, previewed against what is
loaded (``preview_ks4_catalogue``, ``preview_estimates``) and applied as one audited action
(``apply_reference_load``), or loaded with ``keystage reference``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import get_valid_filename

from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.ctf.model import AssessmentMapping, load_mapping_file, parse_mapping, shipped_mappings
from keystage.core.jsonsafe import json_safe
from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.reference import ks4_catalogue
from keystage.core.reference.dfe_files import KS4_CATALOGUE, KS4_PROGRESS8, reference_path, shipped_path
from keystage.core.reference.frameworks import (
    Framework,
    FrameworkError,
    FrameworkLibrary,
    load_framework_file,
    parse_framework,
)
from keystage.core.reference.ks4_diff import CatalogueDiff, EstimatesDiff, diff_catalogues, diff_estimates
from keystage.core.refusals import Refused
from keystage.reference_data.models import (
    CTFMappingVersion,
    DiscountCode,
    EstimatesRelease,
    FrameworkVersion,
    PendingReferenceLoad,
    PendingStatus,
    Qualification,
    QualificationGrade,
    QualificationSyllabus,
    QualificationYear,
    ReferenceImport,
)

logger = logging.getLogger(__name__)

KS4_CATALOGUE_KIND = "ks4-catalogue"
PROGRESS8_KIND = "ks4-progress8"
# The source of a catalogue keystage loaded by itself from DfE's shipped files (or
# KEYSTAGE_REFERENCE_DIR's): only such a catalogue is ever replaced without platform staff asking.
AUTOMATIC = "automatic: "


def framework_library() -> FrameworkLibrary:
    """The shipped frameworks, with any loaded into this installation taking their place."""
    shipped = {(f.collection, f.from_year): f for f in FrameworkLibrary.from_directory().all()}
    for version in FrameworkVersion.objects.all():
        shipped[(version.collection, version.from_year)] = parse_framework(
            version.content, version.source_name
        )
    return FrameworkLibrary(shipped.values())


def load_framework(path: Path, *, actor: Any = None) -> Framework:
    """Check a framework file and load it; FrameworkError (with the file and problem) if it is wrong."""
    framework = load_framework_file(path)
    content = json_safe(tomllib.loads(path.read_text(encoding="utf-8")))  # TOML may say nan; JSON cannot
    with transaction.atomic():
        FrameworkVersion.objects.update_or_create(
            collection=framework.collection,
            from_year=framework.from_year,
            defaults={"content": content, "source_name": path.name},
        )
        ReferenceImport.objects.create(
            kind="framework",
            source=str(path),
            loaded_by=actor,
            summary=[
                f"{framework.collection} from {framework.from_year}: {len(framework.assessments)} assessments"
            ],
        )
    return framework


def ctf_mappings() -> list[AssessmentMapping]:
    """The shipped CTF mappings, with any loaded into this installation taking their place."""
    by_year = {m.from_year: m for m in shipped_mappings()}
    for version in CTFMappingVersion.objects.all():
        by_year[version.from_year] = parse_mapping(version.content, version.source_name)
    return list(by_year.values())


def load_ctf_mapping(path: Path, *, actor: Any = None) -> AssessmentMapping:
    """Check a CTF mapping file and load it; MappingError (with the file and problem) if it is wrong."""
    mapping = load_mapping_file(path)
    content = json_safe(tomllib.loads(path.read_text(encoding="utf-8")))  # TOML may say nan; JSON cannot
    with transaction.atomic():
        CTFMappingVersion.objects.update_or_create(
            from_year=mapping.from_year, defaults={"content": content, "source_name": path.name}
        )
        ReferenceImport.objects.create(
            kind="ctf-mapping",
            source=str(path),
            loaded_by=actor,
            summary=[f"CTF mapping from {mapping.from_year}: {len(mapping.entries)} assessments"],
        )
    return mapping


def load_ks4_catalogue(
    catalogue: ks4_catalogue.Catalogue, *, source: str, actor: Any = None
) -> ReferenceImport:
    """Replace the KS4 catalogue with this one, all or nothing."""
    with transaction.atomic():
        QualificationGrade.objects.all().delete()
        QualificationSyllabus.objects.all().delete()
        QualificationYear.objects.all().delete()
        Qualification.objects.all().delete()
        DiscountCode.objects.all().delete()
        DiscountCode.objects.bulk_create(
            DiscountCode(code=code, description=text)
            for code, text in catalogue.discount_descriptions.items()
        )
        Qualification.objects.bulk_create(
            Qualification(
                qan=q.qan,
                title=q.title[:300],
                qualification_type=q.qualification_type,
                category=q.category,
                gcse_size=q.gcse_size,
                guided_learning_hours=q.guided_learning_hours,
                science_indicator=q.science_indicator,
            )
            for q in catalogue.qualifications.values()
        )
        QualificationGrade.objects.bulk_create(
            QualificationGrade(qualification_id=q.qan, grade=g.grade, text=g.text, points=g.points)
            for q in catalogue.qualifications.values()
            for g in q.grades.values()
        )
        QualificationYear.objects.bulk_create(
            QualificationYear(
                qualification_id=q.qan,
                year=year,
                discount_code=q.discount_codes.get(year, ""),
                ebacc_pillar=q.ebacc_pillars.get(year, ""),
            )
            for q in catalogue.qualifications.values()
            for year in sorted(set(q.discount_codes) | set(q.ebacc_pillars) | set(q.syllabuses))
        )
        QualificationSyllabus.objects.bulk_create(
            QualificationSyllabus(
                qualification_id=q.qan, year=year, syllabus=ref, title=title[:200], discount_code=code
            )
            for q in catalogue.qualifications.values()
            for year, syllabuses in q.syllabuses.items()
            for ref, (title, code) in syllabuses.items()
        )
        return ReferenceImport.objects.create(
            kind=KS4_CATALOGUE_KIND,
            source=source,
            loaded_by=actor,
            summary=list(ks4_catalogue.summarise(catalogue)),
            problems=[str(p) for p in catalogue.problems],
        )


def loaded_ks4_catalogue() -> ks4_catalogue.Catalogue:
    """The KS4 catalogue as loaded into this installation, as the core's plain data."""
    catalogue = ks4_catalogue.Catalogue()
    for row in Qualification.objects.all():
        catalogue.qualifications[row.qan] = ks4_catalogue.Qualification(
            qan=row.qan,
            title=row.title,
            qualification_type=row.qualification_type,
            category=row.category,
            gcse_size=row.gcse_size,
            guided_learning_hours=row.guided_learning_hours,
            science_indicator=row.science_indicator,
        )
    qualifications = catalogue.qualifications
    for grade in QualificationGrade.objects.all():
        qualifications[grade.qualification_id].grades[grade.grade] = ks4_catalogue.Grade(
            grade.grade, grade.text, grade.points
        )
    for year in QualificationYear.objects.all():
        qualification = qualifications[year.qualification_id]
        if year.discount_code:
            qualification.discount_codes[year.year] = year.discount_code
        if year.ebacc_pillar:
            qualification.ebacc_pillars[year.year] = year.ebacc_pillar
    for syllabus in QualificationSyllabus.objects.all():
        qualifications[syllabus.qualification_id].syllabuses.setdefault(syllabus.year, {})[
            syllabus.syllabus
        ] = (
            syllabus.title,
            syllabus.discount_code,
        )
    catalogue.discount_descriptions = dict(DiscountCode.objects.values_list("code", "description"))
    return catalogue


# Where DfE's files are read from ---------------------------------------------------------------


def reference_override() -> Path | None:
    """KEYSTAGE_REFERENCE_DIR: a folder laid out as the shipped one, read instead where it has a folder."""
    value = settings.KEYSTAGE_REFERENCE_DIR
    return Path(value) if value else None


def ks4_catalogue_folder() -> Path:
    """The folder of DfE's KS4 catalogue files: KEYSTAGE_REFERENCE_DIR's, else the shipped one."""
    return reference_path(KS4_CATALOGUE, reference_override())


def progress8_base_folder() -> Path:
    """The folder of DfE's Progress 8 files: KEYSTAGE_REFERENCE_DIR's, else the shipped one."""
    return reference_path(KS4_PROGRESS8, reference_override())


def progress8_folder() -> Path:
    """The folder the product reads Progress 8 estimates from: the base folder's releases with those
    platform staff loaded (kept in the database) in their place or beside them.

    With none loaded this is the base folder itself. Otherwise the readers, which take one folder,
    get a copy made on this machine from the database (under KEYSTAGE_VAR_DIR/cache), named by what
    it holds, so every machine builds the same folder and a new load makes a new one."""
    base = progress8_base_folder()
    loaded = list(EstimatesRelease.objects.order_by("release").values_list("pk", "release", "loaded_at"))
    if not loaded:
        return base
    files = sorted(base.glob("*.csv")) if base.is_dir() else []
    stamp = hashlib.sha256(
        repr(
            (
                str(base),
                [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
                [(pk, release, at.isoformat()) for pk, release, at in loaded],
            )
        ).encode()
    ).hexdigest()[:20]
    cache = Path(settings.VAR_DIR) / "cache" / "reference"
    folder = cache / f"progress8-{stamp}"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".progress8-"))
    for path in files:
        shutil.copyfile(path, staging / path.name)
    for row in EstimatesRelease.objects.all():
        (staging / f"a8_estimates_{row.release}.csv").write_bytes(bytes(row.a8_estimates))
        (staging / f"p8_sd_{row.release}.csv").write_bytes(bytes(row.sd))
        pillars = staging / f"ebacc_pillar_estimates_{row.release}.csv"
        if row.pillar_estimates:
            pillars.write_bytes(bytes(row.pillar_estimates))
        else:
            pillars.unlink(missing_ok=True)  # never another release's pillars under this name
    try:
        staging.rename(folder)
    except OSError:  # another process made the same folder first
        shutil.rmtree(staging, ignore_errors=True)
    _prune(cache, keep=folder)
    return folder


def _prune(cache: Path, *, keep: Path) -> None:
    """Folders made for earlier loads, once a day has passed (a reader may still be in one)."""
    for old in cache.glob("progress8-*"):
        with contextlib.suppress(OSError):
            if old != keep and time.time() - old.stat().st_mtime > 86400:
                shutil.rmtree(old)


# The shipped KS4 catalogue ------------------------------------------------------------------------


def ensure_ks4_catalogue() -> ReferenceImport | None:
    """Load the KS4 catalogue from DfE's files (KEYSTAGE_REFERENCE_DIR's, else the shipped ones) when
    the database has none; or when the one loaded was loaded this way and the files now cover a later
    year (a keystage upgrade shipping newer files). A catalogue platform staff loaded is never
    replaced here, nor one from a year as new or newer. Returns the import, or None when nothing
    was loaded; CatalogueFileError when the files cannot be read."""
    folder = ks4_catalogue_folder()
    if Qualification.objects.exists():
        latest = ReferenceImport.objects.filter(kind=KS4_CATALOGUE_KIND).order_by("-pk").first()
        if latest is None or not latest.source.startswith(AUTOMATIC):
            return None
        loaded_newest = QualificationYear.objects.aggregate(newest=Max("year"))["newest"] or 0
        years = ks4_catalogue.discount_code_years(folder / "discount-codes.xlsx")
        if not years or max(years) <= loaded_newest:
            return None
    catalogue = ks4_catalogue.import_dfe_2019_folder(folder)
    if not catalogue.qualifications:
        raise ks4_catalogue.CatalogueFileError(f"{folder}: the files list no qualifications")
    return load_ks4_catalogue(catalogue, source=f"{AUTOMATIC}{folder}")


def load_shipped_reference_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate: the KS4 catalogue into an empty database. Never in the way of a migration: a
    run that undid migrations, or left the tables missing, is left alone, and files that cannot be
    read are a warning (the KS4 collections then say the catalogue is missing)."""
    from django.db import connections

    plan = kwargs.get("plan") or []
    if any(backwards for _migration, backwards in plan):
        return
    using = kwargs.get("using", "default")
    if using != "default":
        return
    tables = set(connections[using].introspection.table_names())
    if not {Qualification._meta.db_table, ReferenceImport._meta.db_table} <= tables:
        return
    try:
        record = ensure_ks4_catalogue()
    except (ks4_catalogue.CatalogueFileError, OSError) as error:
        logger.warning("The KS4 qualification catalogue was not loaded: %s", error)
        return
    stdout = kwargs.get("stdout")
    if record is not None and stdout is not None and kwargs.get("verbosity", 1) >= 1:
        stdout.write(f"  Loaded the KS4 qualification catalogue ({'; '.join(record.summary)}).\n")


# New reference data from platform staff: preview, then apply -------------------------------------

CATALOGUE_FILES = {
    "points": "Performance points (performance-points.xlsx)",
    "discount_codes": "Discount codes (discount-codes.xlsx)",
    "ebacc": "EBacc qualifications (ebacc-quals.xlsx)",
}
ESTIMATES_FILES = {
    "a8_estimates": "Attainment 8 estimates (a8_estimates_RELEASE.csv)",
    "sd": "Progress 8 standard deviations (p8_sd_RELEASE.csv)",
    "pillar_estimates": "EBacc pillar estimates (ebacc_pillar_estimates_RELEASE.csv), if published",
}
_ESTIMATES_NAMES = {
    "a8_estimates": "a8_estimates_{}.csv",
    "sd": "p8_sd_{}.csv",
    "pillar_estimates": "ebacc_pillar_estimates_{}.csv",
}
_RELEASE = re.compile(r"20[0-9]{2}(prov|rev|final)")


class ReferenceLoadError(Refused):
    """New reference data that cannot be previewed or applied; str() is the message to show. Nothing
    has changed."""


def _base(kind: str) -> str:
    """What is loaded now, as a preview records it: the last load of the kind and the row count, so
    a load since (by anyone, any way) makes the preview stale."""
    latest = ReferenceImport.objects.filter(kind=kind).order_by("-pk").values_list("pk", flat=True).first()
    rows = (Qualification if kind == KS4_CATALOGUE_KIND else EstimatesRelease).objects.count()
    return f"{kind}:{latest or 0}:{rows}"


def _check_uploads(
    files: Mapping[str, File[Any] | None], roles: Mapping[str, str], required: set[str]
) -> dict[str, File[Any]]:
    given = {role: file for role, file in files.items() if role in roles and file is not None}
    missing = [roles[role] for role in roles if role in required and role not in given]
    if missing:
        raise ReferenceLoadError(f"Choose the file for: {'; '.join(missing)}.")
    for role, file in given.items():
        if not file.size:
            raise ReferenceLoadError(f"{_original(file)} ({roles[role]}) is empty.")
    return given


def _original(file: File[Any]) -> str:
    return Path(str(file.name or "file")).name


@contextlib.contextmanager
def _on_disk(files: Mapping[str, tuple[str, bytes]]) -> Iterator[dict[str, Path]]:
    """Each file (role -> (name, content)) written to a temporary folder under its own name, so
    what the importer reports names the file as it was uploaded."""
    with tempfile.TemporaryDirectory(prefix="keystage-reference-") as folder:
        paths = {}
        for role, (name, content) in files.items():
            path = Path(folder) / role / (get_valid_filename(name) or role)
            path.parent.mkdir()
            path.write_bytes(content)
            paths[role] = path
        yield paths


def _read(file: File[Any]) -> bytes:
    file.seek(0)
    return b"".join(file.chunks())


def _catalogue_from(paths: Mapping[str, Path]) -> ks4_catalogue.Catalogue:
    try:
        catalogue = ks4_catalogue.import_dfe_catalogue(
            points=paths["points"], discount_codes=paths["discount_codes"], ebacc=paths["ebacc"]
        )
    except ks4_catalogue.CatalogueFileError as error:
        raise ReferenceLoadError(f"{error}. Nothing was changed.") from None
    if not catalogue.qualifications:
        raise ReferenceLoadError("The files list no qualifications. Nothing was changed.")
    return catalogue


def _estimates_from(
    release: str, paths: Mapping[str, Path], names: Mapping[str, str]
) -> ks4_estimates.Estimates:
    """The release read as the product reads it, from a folder of DfE's names; a problem names the
    file as uploaded."""
    with tempfile.TemporaryDirectory(prefix="keystage-progress8-") as folder:
        for role, path in paths.items():
            shutil.copyfile(path, Path(folder) / _ESTIMATES_NAMES[role].format(release))
        try:
            estimates = ks4_estimates.load_dfe_estimates(Path(folder), release)
            if "pillar_estimates" in paths:
                ks4_estimates.load_dfe_pillar_estimates(Path(folder), release)
        except ks4_estimates.EstimatesFileError as error:
            message = str(error)
            for role in paths:
                message = message.replace(_ESTIMATES_NAMES[role].format(release), names[role])
            raise ReferenceLoadError(f"{message}. Nothing was changed.") from None
    return estimates


def _store(files: Mapping[str, tuple[str, bytes]]) -> dict[str, dict[str, str]]:
    """The files in storage until applied or discarded: role -> {"name", "original"}."""
    folder = f"reference-loads/{timezone.now():%Y/%m}/{get_random_string(16)}"
    stored: dict[str, dict[str, str]] = {}
    try:
        for role, (original, content) in files.items():
            name = default_storage.save(
                f"{folder}/{role}-{get_valid_filename(original) or role}", ContentFile(content)
            )
            stored[role] = {"name": name, "original": original}
    except Exception as error:
        logger.exception("Storage could not keep the reference files")
        _delete_stored(stored)
        raise ReferenceLoadError(
            "The files could not be kept on the server. Try again; nothing was changed."
        ) from error
    return stored


def _delete_stored(stored: Mapping[str, Mapping[str, str]]) -> None:
    for entry in stored.values():
        try:
            default_storage.delete(entry["name"])
        except Exception:
            logger.exception("Could not delete %s", entry["name"])


def _from_storage(pending: PendingReferenceLoad) -> dict[str, tuple[str, bytes]]:
    files = {}
    for role, entry in pending.files.items():
        try:
            with default_storage.open(entry["name"], "rb") as handle:
                files[role] = (entry["original"], handle.read())
        except OSError:
            raise ReferenceLoadError(
                f"{entry['original']} is no longer on the server. Upload the files again; "
                "nothing was changed."
            ) from None
    return files


def preview_ks4_catalogue(
    files: Mapping[str, File[Any] | None], *, actor: Any = None
) -> PendingReferenceLoad:
    """Read a new KS4 catalogue (the three DfE workbooks, by role: points, discount_codes, ebacc),
    compare it with the loaded one and keep the files for ``apply_reference_load``. Nothing loaded
    changes. ReferenceLoadError when a file cannot be used."""
    given = _check_uploads(files, CATALOGUE_FILES, set(CATALOGUE_FILES))
    contents = {role: (_original(file), _read(file)) for role, file in given.items()}
    base = _base(KS4_CATALOGUE_KIND)
    with _on_disk(contents) as paths:
        catalogue = _catalogue_from(paths)
    diff = diff_catalogues(loaded_ks4_catalogue(), catalogue)
    return PendingReferenceLoad.objects.create(
        kind=KS4_CATALOGUE_KIND,
        files=_store(contents),
        preview=diff.to_json(),
        base=base,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def _loaded_release(release: str) -> tuple[ks4_estimates.Estimates | None, str]:
    """The release as the product reads it now, and where it comes from ("" when there is none)."""
    stored = EstimatesRelease.objects.filter(release=release).first()
    folder = progress8_folder()
    if release not in ks4_estimates.available_releases(folder):
        return None, ""
    try:
        loaded = ks4_estimates.load_dfe_estimates(folder, release)
    except ks4_estimates.EstimatesFileError:
        loaded = None  # unreadable now: the new files replace it, and nothing can be compared
    if stored is not None:
        return loaded, f"loaded by platform staff {timezone.localtime(stored.loaded_at):%d %B %Y}"
    base = progress8_base_folder()
    where = "shipped with keystage" if base == shipped_path(KS4_PROGRESS8) else f"from {base}"
    return loaded, where


def _release_name(release: str) -> str:
    release = release.strip().lower()
    if not _RELEASE.fullmatch(release):
        raise ReferenceLoadError(
            f"“{release}” is not a release name: the year and prov, rev or final, e.g. 2025prov."
        )
    return release


def _read_estimates(
    release: str, files: Mapping[str, File[Any] | None]
) -> tuple[dict[str, tuple[str, bytes]], EstimatesDiff]:
    given = _check_uploads(files, ESTIMATES_FILES, {"a8_estimates", "sd"})
    contents = {role: (_original(file), _read(file)) for role, file in given.items()}
    with _on_disk(contents) as paths:
        estimates = _estimates_from(release, paths, {role: name for role, (name, _c) in contents.items()})
    loaded, replaces = _loaded_release(release)
    diff = diff_estimates(loaded, estimates, release=release, replaces=replaces)
    diff.replaces = replaces  # replaced even when the loaded one could not be read
    diff.pillars = "pillar_estimates" in contents
    return contents, diff


def estimates_diff(release: str, files: Mapping[str, File[Any] | None]) -> EstimatesDiff:
    """What loading the release's files would change, keeping nothing (``keystage reference
    load-progress8 --preview``)."""
    return _read_estimates(_release_name(release), files)[1]


def preview_estimates(
    release: str, files: Mapping[str, File[Any] | None], *, actor: Any = None
) -> PendingReferenceLoad:
    """Read a release of DfE's Progress 8 estimates (files by role: a8_estimates, sd, and
    pillar_estimates if published), say whether it is new or replaces one, and keep the files for
    ``apply_reference_load``. Nothing loaded changes."""
    release = _release_name(release)
    base = _base(PROGRESS8_KIND)
    contents, diff = _read_estimates(release, files)
    return PendingReferenceLoad.objects.create(
        kind=PROGRESS8_KIND,
        release=release,
        files=_store(contents),
        preview=diff.to_json(),
        base=base,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def pending_diff(pending: PendingReferenceLoad) -> CatalogueDiff | EstimatesDiff:
    if pending.kind == KS4_CATALOGUE_KIND:
        return CatalogueDiff.from_json(pending.preview)
    return EstimatesDiff.from_json(pending.preview)


def is_stale(pending: PendingReferenceLoad) -> bool:
    return pending.base != _base(pending.kind)


def apply_reference_load(pending_id: int, *, actor: Any = None, ip: str | None = None) -> ReferenceImport:
    """Load what a preview showed, as one action: everything or nothing, logged in the import log and
    the audit log. Refused (ReferenceLoadError, nothing changed) once applied or discarded, or when
    what is loaded has changed since the preview."""
    with transaction.atomic():
        pending = PendingReferenceLoad.objects.select_for_update().filter(pk=pending_id).first()
        if pending is None:
            raise ReferenceLoadError("There is no such upload of reference data.")
        if pending.status != PendingStatus.PENDING:
            raise ReferenceLoadError(f"These files were already {pending.get_status_display().lower()}.")
        if is_stale(pending):
            raise ReferenceLoadError(
                "What is loaded has changed since this preview was worked out, so it no longer says what "
                "would happen. Upload the files again for a new preview; nothing was changed."
            )
        contents = _from_storage(pending)
        names = sorted(name for name, _content in contents.values())
        source = f"uploaded by {getattr(actor, 'email', '') or 'platform staff'}: {', '.join(names)}"[:500]
        with _on_disk(contents) as paths:
            if pending.kind == KS4_CATALOGUE_KIND:
                record = load_ks4_catalogue(_catalogue_from(paths), source=source, actor=actor)
                subject = "KS4 qualification catalogue"
            else:
                record = _load_estimates(pending.release, paths, contents, source=source, actor=actor)
                subject = f"Progress 8 estimates {pending.release}"
        log.record(
            AuditAction.REFERENCE_LOADED,
            actor=actor,
            subject=subject,
            ip_address=ip,
            kind=pending.kind,
            files=names,
            summary=record.summary,
            problems=len(record.problems),
            reference_import=record.pk,
        )
        pending.status = PendingStatus.APPLIED
        pending.decided_at = timezone.now()
        pending.decided_by = actor if getattr(actor, "pk", None) else None
        pending.applied_as = record
        pending.save(update_fields=["status", "decided_at", "decided_by", "applied_as"])
        stored = dict(pending.files)
        transaction.on_commit(lambda: _delete_stored(stored))
    return record


def _load_estimates(
    release: str,
    paths: Mapping[str, Path],
    contents: Mapping[str, tuple[str, bytes]],
    *,
    source: str,
    actor: Any,
) -> ReferenceImport:
    estimates = _estimates_from(release, paths, {role: name for role, (name, _c) in contents.items()})
    EstimatesRelease.objects.update_or_create(
        release=release,
        defaults={
            "a8_estimates": contents["a8_estimates"][1],
            "sd": contents["sd"][1],
            "pillar_estimates": contents["pillar_estimates"][1] if "pillar_estimates" in contents else b"",
            "source_names": sorted(name for name, _content in contents.values()),  # jsonb keeps no key order
            "loaded_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    return ReferenceImport.objects.create(
        kind=PROGRESS8_KIND,
        source=source,
        loaded_by=actor if getattr(actor, "pk", None) else None,
        summary=[f"{estimates.label} ({release}): {estimates.by_pag.height} prior attainment groups"],
    )


def discard_reference_load(pending_id: int, *, actor: Any = None) -> None:
    """Drop uploaded files without loading them."""
    with transaction.atomic():
        pending = PendingReferenceLoad.objects.select_for_update().filter(pk=pending_id).first()
        if pending is None or pending.status != PendingStatus.PENDING:
            raise ReferenceLoadError("These files are not waiting to be applied.")
        pending.status = PendingStatus.DISCARDED
        pending.decided_at = timezone.now()
        pending.decided_by = actor if getattr(actor, "pk", None) else None
        pending.save(update_fields=["status", "decided_at", "decided_by"])
        stored = dict(pending.files)
        transaction.on_commit(lambda: _delete_stored(stored))


def reference_version() -> int:
    """Changes whenever reference data is loaded, so caches built from it know to rebuild."""
    latest = ReferenceImport.objects.order_by("-pk").values_list("pk", flat=True).first()
    return latest or 0


__all__ = [
    "CATALOGUE_FILES",
    "ESTIMATES_FILES",
    "KS4_CATALOGUE_KIND",
    "PROGRESS8_KIND",
    "FrameworkError",
    "ReferenceLoadError",
    "apply_reference_load",
    "ctf_mappings",
    "discard_reference_load",
    "ensure_ks4_catalogue",
    "estimates_diff",
    "framework_library",
    "is_stale",
    "ks4_catalogue_folder",
    "load_ctf_mapping",
    "load_framework",
    "load_ks4_catalogue",
    "loaded_ks4_catalogue",
    "pending_diff",
    "preview_estimates",
    "preview_ks4_catalogue",
    "progress8_folder",
    "reference_version",
]
