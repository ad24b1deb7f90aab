"""A task used only by the tests: it reports what the worker running it looks like from inside."""

from django_tasks import task

from keystage.web.models import WorkerHeartbeat


@task()
def count_live_workers() -> int:
    return WorkerHeartbeat.objects.count()
