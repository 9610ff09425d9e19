from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.health import healthz

admin.site.site_header = "This Movie Does Not Exist: moderation"
admin.site.site_title = "TMDNE admin"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("", include("web.urls")),
]
