"""Background work of results collections, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.results import services, upload_checks
from keystage.results.models import Collection
from keystage.web import task_priorities


@task(priority=task_priorities.CHECK)
def validate_upload_task(upload_id: int) -> str:
    upload = upload_checks.validate_stored_upload(upload_id)
    return "gone" if upload is None else f"{upload.status}: {upload.error_count} errors"


@task(priority=task_priorities.DEADLINE)
def collect_at_deadline(collection_id: int, deadline: str) -> str:
    collection = Collection.objects.filter(pk=collection_id).first()
    if collection is None:
        return "collection gone"
    run = services.collect_deadline(collection, deadline)
    return "already collected or not yet due" if run is None else f"{run.schools} schools frozen"
