"""Loading reference data into the database: one function per load, each in one transaction and
recorded in the import log."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from django.db import transaction

from keystage.core.ctf.model import AssessmentMapping, load_mapping_file, parse_mapping, shipped_mappings
from keystage.core.reference import ks4_catalogue
from keystage.core.reference.frameworks import (
    Framework,
    FrameworkError,
    FrameworkLibrary,
    load_framework_file,
    parse_framework,
)
from keystage.reference_data.models import (
    CTFMappingVersion,
    DiscountCode,
    FrameworkVersion,
    Qualification,
    QualificationGrade,
    QualificationSyllabus,
    QualificationYear,
    ReferenceImport,
)


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
    content = tomllib.loads(path.read_text(encoding="utf-8"))
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
    content = tomllib.loads(path.read_text(encoding="utf-8"))
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
            kind="ks4-catalogue",
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


def reference_version() -> int:
    """Changes whenever reference data is loaded, so caches built from it know to rebuild."""
    latest = ReferenceImport.objects.order_by("-pk").values_list("pk", flat=True).first()
    return latest or 0


__all__ = [
    "FrameworkError",
    "ctf_mappings",
    "framework_library",
    "load_ctf_mapping",
    "load_framework",
    "load_ks4_catalogue",
    "loaded_ks4_catalogue",
    "reference_version",
]
