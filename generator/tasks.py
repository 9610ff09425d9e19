"""Celery tasks of the generator app (autodiscovered); each area keeps its tasks in its own module."""
