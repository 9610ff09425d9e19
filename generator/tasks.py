"""Celery tasks of the generator app (autodiscovered); each area keeps its own module."""

from generator.pool_tasks import generate_batch, top_up_pools
from generator.training_tasks import finetune

__all__ = ["finetune", "generate_batch", "top_up_pools"]
