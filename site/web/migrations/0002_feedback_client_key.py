"""Feedback is keyed by a hash of the client's address (web.models.client_key), not a cookie.

Earlier rows keep their cookie ids: they still count once each and can never match a new key.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0001_feedback"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="report", name="one_report_per_visitor"),
        migrations.RemoveConstraint(model_name="vote", name="one_vote_per_visitor"),
        migrations.RenameField(model_name="report", old_name="visitor", new_name="client_key"),
        migrations.RenameField(model_name="vote", old_name="visitor", new_name="client_key"),
        migrations.AddConstraint(
            model_name="report",
            constraint=models.UniqueConstraint(
                fields=("description", "client_key"), name="one_report_per_client"
            ),
        ),
        migrations.AddConstraint(
            model_name="vote",
            constraint=models.UniqueConstraint(
                fields=("description", "client_key"), name="one_vote_per_client"
            ),
        ),
    ]
