from django.conf import settings
from django.urls import path, register_converter

from web import views


class _DescriptionId:
    """1 to 18 digits: anything longer is a 404 here, never an integer overflow in the database."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(_DescriptionId, "description_id")

urlpatterns = [
    path("", views.home, name="home"),
    path("d/<description_id:pk>/", views.permalink, name="permalink"),
    path("d/<description_id:pk>/vote/", views.vote, name="vote"),
    path("d/<description_id:pk>/report/", views.report, name="report"),
    path("about/", views.about, name="about"),
]

if settings.BENCHMARK_VIEWS:
    urlpatterns.append(path("bench/baseline/", views.baseline, name="bench-baseline"))
