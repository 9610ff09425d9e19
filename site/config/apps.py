"""The admin app, with the moderators' site (config.admin_site) as its default site."""

from django.contrib.admin.apps import AdminConfig


class ModeratorAdminConfig(AdminConfig):
    default_site = "config.admin_site.ModeratorSite"
