"""Celery tasks of the generator app (autodiscovered); each area keeps its own module."""

from generator.pool_tasks import generate_batch, top_up_pools
from generator.training_tasks import fail_stale_runs, finetune

__all__ = ["fail_stale_runs", "finetune", "generate_batch", "top_up_pools"]
