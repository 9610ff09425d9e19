"""Celery tasks of the generator app (autodiscovered); each area keeps its own module."""

from generator.pool_tasks import generate_batch, top_up_pools

__all__ = ["generate_batch", "top_up_pools"]
