"""Kept only for test_cache_outage.py and test_feedback_rate_limit.py: import from tests.factories.

Delete this file once those two import make_pool from tests.factories instead.
"""

from tests.factories import make_pool

__all__ = ["make_pool"]
