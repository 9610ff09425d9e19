from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# generator.ml.config.GENERATE_SAMPLER, fixed here: what sampled every text stored before this,
# in float32 on the CPUs the site has run on.
GENERATE_SAMPLER = 1


def texts_so_far_were_sampled_by_generate(
    apps: StateApps, schema_editor: BaseDatabaseSchemaEditor
) -> None:
    texts = apps.get_model("generator", "GeneratedDescription")
    texts.objects.filter(seed__isnull=False).update(
        sampler_version=GENERATE_SAMPLER, sampler_dtype="float32"
    )


class Migration(migrations.Migration):
    dependencies = [("generator", "0016_measured_batch_size")]

    operations = [
        migrations.AddField(
            model_name="generateddescription",
            name="sampler_version",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="generateddescription",
            name="sampler_dtype",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(texts_so_far_were_sampled_by_generate, migrations.RunPython.noop),
    ]
