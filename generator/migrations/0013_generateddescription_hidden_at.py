from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def mark_report_hidden(apps, schema_editor):
    """Texts reports took down before the field existed: unmoderated, pending, enough reports.
    Stamped with their creation time, so they do not use up this hour's cap."""
    descriptions = apps.get_model("generator", "GeneratedDescription")
    descriptions.objects.filter(
        status="pending",
        moderated_at__isnull=True,
        first_served_at__isnull=False,
        report_count__gte=settings.REPORT_HIDE_THRESHOLD,
    ).update(hidden_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("generator", "0012_run_lifecycle_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="generateddescription",
            name="hidden_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_report_hidden, migrations.RunPython.noop),
    ]
