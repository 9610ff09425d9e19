"""A run's realism figures (generator/run_evaluation.py): empty until it is evaluated."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generator", "0008_overfit_pool_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelrun",
            name="realism",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
