"""Admin for the generator app: one module per area, each registering its own ModelAdmins."""

from generator.admin import (
    descriptions,  # noqa: F401
    pitches,  # noqa: F401
    runs,  # noqa: F401
    site_health,  # noqa: F401
)
