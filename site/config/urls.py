from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.health import healthz, livez
from config.metrics import metrics

admin.site.site_header = "This Movie Does Not Exist: moderation"
admin.site.site_title = "TMDNE admin"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("livez/", livez, name="livez"),
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url="/static/img/favicon.svg", permanent=True)),
    path("", include("web.urls")),
]
