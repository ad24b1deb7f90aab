from collections import defaultdict

from django.db import migrations, models


def count_stored_pupils(apps, schema_editor):
    """Runs stored before this migration keep their pupils' lists: each school's counts come from them."""
    PupilFigure = apps.get_model("measures", "PupilFigure")
    SchoolFigure = apps.get_model("measures", "SchoolFigure")
    counts: dict[tuple[int, int], dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0, set()]))
    left_out = PupilFigure.objects.exclude(not_counted=[]).values_list(
        "run_id", "school_id", "upn", "not_counted"
    )
    for run_id, school_id, upn, entries in left_out.iterator(chunk_size=2000):
        for entry in entries or []:
            tally = counts[(run_id, school_id)][str(entry.get("reason", ""))]
            tally[0] += 1
            tally[1].add(upn)
    for (run_id, school_id), reasons in counts.items():
        summary = sorted(
            ({"reason": reason, "results": n, "pupils": len(upns)} for reason, (n, upns) in reasons.items()),
            key=lambda r: (-r["results"], r["reason"]),
        )
        SchoolFigure.objects.filter(run_id=run_id, school_id=school_id, group="all", value="all").update(
            not_counted=summary
        )


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0007_pupilfigure_not_counted"),
    ]

    operations = [
        migrations.AddField(
            model_name="schoolfigure",
            name="not_counted",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='A school\'s ("all" row only) results not counted in performance measures at all, per '
                "reason: reason, results, pupils. Kept with the school so a trust, LA or the nation adds up "
                "its schools' rows rather than reading every pupil.",
            ),
        ),
        migrations.RunPython(count_stored_pupils, migrations.RunPython.noop),
    ]
