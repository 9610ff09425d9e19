"""The overfit check's index of generated texts moves from worker memory into the database.

TextShingle holds the word-trigram hashes of the newest OVERFIT_POOL_INDEX_LIMIT texts and
normal_hash the folded text's hash of every text; both are filled here for the texts already stored.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from generator.signatures import normal_hash, shingles

CHUNK = 2000


def index_stored_texts(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    description_model = apps.get_model("generator", "GeneratedDescription")
    shingle_model = apps.get_model("generator", "TextShingle")
    newest = set(
        description_model.objects.order_by("-pk").values_list("pk", flat=True)[
            : settings.OVERFIT_POOL_INDEX_LIMIT
        ]
    )
    rows = description_model.objects.order_by("pk").only("pk", "text")
    batch = []
    for description in rows.iterator(chunk_size=CHUNK):
        description.normal_hash = normal_hash(description.text)
        batch.append(description)
        if description.pk in newest:
            shingle_model.objects.bulk_create(
                shingle_model(description_id=description.pk, shingle=shingle)
                for shingle in sorted(shingles(description.text))
            )
        if len(batch) >= CHUNK:
            description_model.objects.bulk_update(batch, ["normal_hash"])
            batch = []
    description_model.objects.bulk_update(batch, ["normal_hash"])


class Migration(migrations.Migration):

    dependencies = [
        ("generator", "0007_serving_unserved_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="generateddescription",
            name="normal_hash",
            field=models.BigIntegerField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.CreateModel(
            name="TextShingle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("shingle", models.BigIntegerField()),
                (
                    "description",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="shingles",
                        to="generator.generateddescription",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["shingle", "description"], name="shingle_lookup")
                ],
            },
        ),
        migrations.RunPython(index_stored_texts, migrations.RunPython.noop, elidable=True),
    ]
