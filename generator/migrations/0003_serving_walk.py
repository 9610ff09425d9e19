"""serve_key: a random permanent position per description, and the indexes the serving walk seeks."""

from django.db import migrations, models

import generator.models


def assign_serve_keys(apps, schema_editor):
    GeneratedDescription = apps.get_model("generator", "GeneratedDescription")
    taken = set()
    batch = []
    for pk in GeneratedDescription.objects.filter(serve_key__isnull=True).values_list("pk", flat=True).iterator():
        key = generator.models.new_serve_key()
        while key in taken:
            key = generator.models.new_serve_key()
        taken.add(key)
        batch.append(GeneratedDescription(pk=pk, serve_key=key))
        if len(batch) == 1000:
            GeneratedDescription.objects.bulk_update(batch, ["serve_key"])
            batch = []
    GeneratedDescription.objects.bulk_update(batch, ["serve_key"])


class Migration(migrations.Migration):

    dependencies = [
        ("generator", "0002_generation_pools"),
    ]

    operations = [
        migrations.AddField(
            model_name="generateddescription",
            name="serve_key",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(assign_serve_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="generateddescription",
            name="serve_key",
            field=models.BigIntegerField(
                default=generator.models.new_serve_key, editable=False, unique=True
            ),
        ),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(fields=["status", "serve_key"], name="gd_walk"),
        ),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(fields=["status", "kind", "serve_key"], name="gd_walk_kind"),
        ),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(fields=["status", "times_served", "serve_key"], name="gd_least"),
        ),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(
                fields=["status", "kind", "times_served", "serve_key"], name="gd_least_kind"
            ),
        ),
    ]
