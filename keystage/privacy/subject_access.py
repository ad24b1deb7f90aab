"""A subject access request (UK GDPR article 15): everything keystage holds about one pupil at one
school, for the school to answer the request with.

One ZIP: ``pupil-data.json`` (machine-readable, every field as stored) and ``summary.html`` (the same,
readable by a person, opening in any browser without a network). Only the school's own data: its
roster records of the pupil, the pupil's rows and results in every upload of the school, the pupil's
figures in stored measures, the pupil in files the school sent its LA, the pupil's estimates as they
stand, and the audit log's entries that name the pupil (who looked at or downloaded their data, when).

Files holding a whole cohort (the uploaded spreadsheets, CTFs, published reports) are not included:
they hold other pupils' data too. What they say about this pupil is in the rows above.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone

from keystage.audit import log
from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.estimates.ambition import LEVELS
from keystage.core.pupils.model import InvalidUPNError, check_upn
from keystage.core.refusals import Refused
from keystage.core.results.kinds import academic_year_name
from keystage.estimates import services as estimates
from keystage.measures.models import PrimaryPupilFigure, PupilFigure
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.results.models import SubmittedPupil
from keystage.returns.models import ReturnedPupil

# The sections of the export, in order, with what each holds.
SECTIONS: dict[str, str] = {
    "roster": "Roster records: the pupil as the school's management information system gave them",
    "results": "Results: the pupil in each results file uploaded for the school",
    "figures": "Figures: the pupil's measures as keystage worked them out",
    "returns": "Returns: the pupil in files the school sent its local authority",
    "estimates": "Estimates: the pupil's estimated outcomes, as they stand today",
    "audit": "Audit log: when the pupil's data was looked at, downloaded or exported, and by whom",
}


class SubjectAccessError(Refused):
    """A request that cannot be answered as asked; str() says why, for the UPN field."""


@dataclass(frozen=True)
class SubjectAccessExport:
    school: School
    upn: str
    counts: dict[str, int]
    filename: str
    content: bytes


def valid_upn(text: str) -> str:
    try:
        return check_upn(text)
    except InvalidUPNError as error:
        raise SubjectAccessError(f"{error}.") from None


def _fields(row: models.Model, leave_out: tuple[str, ...]) -> dict[str, Any]:
    """A stored row's own fields, as stored (ids of other rows left out)."""
    return {
        f.name: getattr(row, f.attname)
        for f in row._meta.concrete_fields
        if f.name not in leave_out and not f.is_relation and not f.primary_key
    }


def _roster(school: School, upn: str) -> list[dict[str, Any]]:
    rows = Pupil.objects.filter(school=school, upn=upn).order_by("academic_year")
    return [
        {
            "academic_year": academic_year_name(p.academic_year),
            **_fields(p, ("academic_year",)),
            "sex": p.get_sex_display(),
            "sen": p.get_sen_display(),
        }
        for p in rows
    ]


def _results(school: School, upn: str) -> list[dict[str, Any]]:
    found = (
        SubmittedPupil.objects.filter(upload__school=school, upn=upn)
        .select_related("upload__collection")
        .prefetch_related("results")
        .order_by("upload__collection__year", "upload__uploaded_at", "pk")
    )
    return [
        {
            "collection": str(entry.upload.collection),
            "academic_year": academic_year_name(entry.upload.collection.year),
            "file": entry.upload.filename,
            "uploaded_at": entry.upload.uploaded_at,
            "status": entry.upload.get_status_display(),
            "in_use": entry.upload.in_use,
            "confirmed_at": entry.upload.confirmed_at,
            "pupil": _fields(entry, ()),
            "results": [
                {"subject": r.subject, "qan": r.qan, "discount_code": r.discount_code, "value": r.value}
                for r in sorted(entry.results.all(), key=lambda r: r.subject)
            ],
        }
        for entry in found
    ]


def _figures(school: School, upn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    ks4 = PupilFigure.objects.filter(school=school, upn=upn).select_related("run")
    primary = PrimaryPupilFigure.objects.filter(school=school, upn=upn).select_related("run")
    every: list[PupilFigure | PrimaryPupilFigure] = [*ks4, *primary]
    for figure in every:
        run = figure.run
        found.append(
            {
                "key_stage": run.get_key_stage_display(),
                "academic_year": academic_year_name(run.year),
                "computed_at": run.computed_at,
                "run": run.pk,
                "figures": _fields(figure, ()),
            }
        )
    return sorted(found, key=lambda f: (f["academic_year"], f["key_stage"], f["run"]))


def _returns(school: School, upn: str) -> list[dict[str, Any]]:
    found = (
        ReturnedPupil.objects.filter(sent_return__school=school, upn=upn)
        .select_related("sent_return__round__la")
        .order_by("sent_return__sent_at", "pk")
    )
    return [
        {
            "return": str(entry.sent_return.round),
            "local_authority": entry.sent_return.round.la.name,
            "file": entry.sent_return.filename,
            "sent_at": entry.sent_return.sent_at,
            "status": entry.sent_return.get_status_display(),
            "pupil": _fields(entry, ()),
        }
        for entry in found
    ]


def _estimates(school: School, upn: str) -> list[dict[str, Any]]:
    """The pupil's estimates of each stage the school's pupils have ahead of them (none if the pupil is
    not on the school's newest roll, or nothing is fitted)."""
    found = []
    for stage in estimates.stages_for(school):
        scored = estimates.pupil_estimates(school, upn, transition=stage.transition)
        if scored is None:
            continue
        fitted, _pupil, outcomes = scored
        found.append(
            {
                "estimates": stage.title,
                "fit": str(fitted.fit),
                "outcomes": [
                    {
                        "outcome": outcome.name,
                        "expected": {LEVELS[level]: value for level, value in outcome.expected.items()},
                        # The chance of reaching each mark, at average progress (level 50).
                        "chances_at_average_progress": dict(outcome.chances),
                    }
                    for outcome in outcomes
                ],
            }
        )
    return found


def _audit(school: School, upn: str) -> list[dict[str, Any]]:
    events = AuditEvent.objects.filter(organisation=school, subject__contains=upn).order_by(
        "created_at", "id"
    )
    return [
        {"at": e.created_at, "action": e.get_action_display(), "by": e.actor_email, "about": e.subject}
        for e in events
    ]


WHO_WITHHELD = "withheld: only the school's administrators see who"
WHO_LEFT_OUT = (
    "Who did each of these is in the school's audit log, which your roles do not show, so their names "
    "are left out. A person who is both an administrator of the school and sees its pupils can export "
    "them."
)


def pupil_data(school: School, upn: str, *, who: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every section of what keystage holds about the pupil at the school; ``who`` false leaves out the
    staff named in the audit section (the audit log is the school administrators')."""
    audit = _audit(school, upn)
    if not who:
        audit = [{**event, "by": WHO_WITHHELD} for event in audit]
    return {
        "roster": _roster(school, upn),
        "results": _results(school, upn),
        "figures": _figures(school, upn),
        "returns": _returns(school, upn),
        "estimates": _estimates(school, upn),
        "audit": audit,
    }


def export_pupil(
    school: School, text: str, *, actor: Any, ip: str | None = None, who: bool = True
) -> SubjectAccessExport:
    """The ZIP of everything held about the pupil with UPN ``text`` at the school; audited. The caller
    has checked the actor may see the school's pupils, and whether they may read its audit log
    (``who``: it names the school's staff)."""
    upn = valid_upn(text)
    sections = pupil_data(school, upn, who=who)
    counts = {name: len(rows) for name, rows in sections.items()}
    if not any(counts.values()):
        raise SubjectAccessError(
            f"keystage holds nothing about a pupil with UPN {upn} at {school.name}: check the UPN is this "
            "pupil's at this school."
        )
    now = timezone.now()
    document = {
        "about": {
            "upn": upn,
            "school": school.name,
            "dfe_number": school.dfe_number,
            "urn": school.urn,
            "exported_at": now,
            "exported_by": getattr(actor, "email", ""),
            "sections": SECTIONS,
            **({} if who else {"audit_names_left_out": WHO_LEFT_OUT}),
        },
        **sections,
    }
    summary = render_to_string(
        "privacy/subject_access_summary.html",
        {"about": document["about"], "name": _name(sections), "sections": _readable_sections(sections)},
    )
    base = f"subject-access-{upn}-{school.dfe_number}"
    buffer = io.BytesIO()
    stamp = timezone.localtime(now).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in (
            ("pupil-data.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)),
            ("summary.html", summary),
        ):
            entry = zipfile.ZipInfo(f"{base}/{name}", date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content.encode("utf-8"))
    detail: dict[str, Any] = {"upn": upn, **counts}
    log.record(
        AuditAction.SUBJECT_ACCESS_EXPORTED,
        actor=actor,
        organisation=school,
        subject=f"pupil {upn}",
        ip_address=ip,
        **detail,
    )
    return SubjectAccessExport(school, upn, counts, f"{base}.zip", buffer.getvalue())


# The summary, for a person ------------------------------------------------------------------------


def _name(sections: dict[str, list[dict[str, Any]]]) -> str:
    """The pupil's name as last recorded: the newest roster record, else the newest file."""
    for row in reversed(sections["roster"]):
        return f"{row['forename']} {row['surname']}".strip()
    for row in reversed(sections["results"] + sections["returns"]):
        name = f"{row['pupil']['forename']} {row['pupil']['surname']}".strip()
        if name:
            return name
    return ""


_HEADINGS = {
    "roster": lambda r: f"{r['academic_year']} roster record",
    "results": lambda r: f"{r['collection']}: {r['file']}",
    "figures": lambda r: f"{r['key_stage']} {r['academic_year']}",
    "returns": lambda r: f"{r['return']} to {r['local_authority']}: {r['file']}",
    "estimates": lambda r: f"{r['estimates']}",
    "audit": lambda r: f"{_text(r['at'])}: {r['action']}",
}
_WORDS = {
    "upn": "UPN", "nc": "NC", "sen": "SEN", "eal": "EAL", "fsm6": "FSM in the last six years", "qan": "QAN",
    "ebacc": "EBacc", "aps": "APS", "pa": "prior attainment", "pag": "prior attainment group",
    "em": "English and maths", "4plus": "grade 4 or above", "5plus": "grade 5 or above",
}  # fmt: skip


def _label(key: str) -> str:
    words = [_WORDS.get(w, w.upper() if w[:2] in {"ks", "a8", "p8"} else w) for w in str(key).split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _text(value: Any) -> str:
    if value is None or value == "":
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%d %B %Y, %H:%M}"
    if isinstance(value, date):
        return f"{value:%d %B %Y}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _rows(value: Any, label: str = "") -> list[tuple[str, str]]:
    """A nested record as (label, text) rows: nested fields named by their path."""
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in _rows(item, _join(label, _label(key)))]
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [(label, ", ".join(_text(item) for item in value) or "\N{EN DASH}")]
        return [row for n, item in enumerate(value, start=1) for row in _rows(item, f"{label} {n}")]
    return [(label, _text(value))]


def _join(label: str, key: str) -> str:
    return f"{label}: {key}" if label else key


def _readable_sections(sections: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    readable = []
    for key, title in SECTIONS.items():
        records = []
        for record in sections[key]:
            shown = {("as_in_the_file" if name == "pupil" else name): value for name, value in record.items()}
            if key == "results":  # a result a row of its own, named by its subject
                shown["results"] = {r["subject"]: r["value"] for r in record["results"]}
            if key == "figures":
                shown.update(shown.pop("figures"))
            records.append({"heading": _HEADINGS[key](record), "rows": _rows(shown)})
        readable.append({"key": key, "title": title, "records": records})
    return readable
