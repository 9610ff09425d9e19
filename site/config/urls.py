from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "This Movie Does Not Exist: moderation"
admin.site.site_title = "TMDNE admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("web.urls")),
]
