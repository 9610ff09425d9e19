from django.contrib.sitemaps import views as sitemap_views
from django.urls import path, register_converter
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_safe

from generator.ids import IdConverter
from web import api, pitch, rankings, share, views
from web.feeds import NewDescriptionsFeed
from web.sitemaps import SITEMAPS

register_converter(IdConverter, "description_id")
# Crawlers ask often and a page lists thousands of ids: built at most this often per page.
SITEMAP_CACHE_SECONDS = 600

urlpatterns = [
    path("", views.home, name="home"),
    path("status/", views.status, name="status"),
    path("d/<description_id:pk>/", views.permalink, name="permalink"),
    path("d/<description_id:pk>/vote/", views.vote, name="vote"),
    path("d/<description_id:pk>/report/", views.report, name="report"),
    path("d/<description_id:pk>/card.png", share.share_card, name="share-card"),
    path("best/", rankings.most_wanted, name="best"),
    path("fresh/", rankings.fresh, name="fresh"),
    path("feed/", require_safe(NewDescriptionsFeed()), name="feed"),
    path("api/descriptions/random", api.random_description, name="api-random"),
    path("api/descriptions/<str:ident>", api.description_detail, name="api-description"),
    path("pitch/", pitch.new_pitch, name="pitch-new"),
    path("pitch/<slug:public_id>/", pitch.pitch_page, name="pitch"),
    path("about/", views.about, name="about"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path(".well-known/security.txt", views.security_txt, name="security-txt"),
    path(
        "sitemap.xml",
        require_safe(cache_page(SITEMAP_CACHE_SECONDS)(sitemap_views.index)),
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        require_safe(cache_page(SITEMAP_CACHE_SECONDS)(sitemap_views.sitemap)),
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
]
