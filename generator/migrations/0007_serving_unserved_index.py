"""The serving walk prefers never-served texts through partial indexes, not times_served ones."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("generator", "0006_pool_refilling"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="generateddescription", name="gd_least"),
        migrations.RemoveIndex(model_name="generateddescription", name="gd_least_kind"),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(
                condition=models.Q(("first_served_at__isnull", True)),
                fields=["status", "serve_key"],
                name="gd_unserved",
            ),
        ),
        migrations.AddIndex(
            model_name="generateddescription",
            index=models.Index(
                condition=models.Q(("first_served_at__isnull", True)),
                fields=["status", "kind", "serve_key"],
                name="gd_unserved_kind",
            ),
        ),
    ]
