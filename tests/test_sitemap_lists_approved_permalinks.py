"""sitemap.xml lists the site's pages and the permalinks of approved texts, nothing else."""

import re

import pytest
from django.core.cache import cache
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from web.sitemaps import TextSitemap

pytestmark = pytest.mark.django_db
Status = GeneratedDescription.Status


def _locations(client: Client, path: str) -> list[str]:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/xml")
    return re.findall(r"<loc>([^<]+)</loc>", answer.content.decode())


def test_only_approved_texts_are_listed() -> None:
    approved = [GeneratedDescriptionFactory.create() for _ in range(3)]
    hidden = [
        GeneratedDescriptionFactory.create(status=status)
        for status in (Status.PENDING, Status.REJECTED, Status.OVERFIT)
    ]
    client = Client()

    sections = _locations(client, "/sitemap.xml")
    listed = [loc for section in sections for loc in _locations(client, section)]

    assert sections == [
        "http://testserver/sitemap-pages.xml",
        "http://testserver/sitemap-texts.xml",
    ]
    assert "http://testserver/" in listed and "http://testserver/about/" in listed
    for text in approved:
        assert f"http://testserver/d/{text.pk}/" in listed
    for text in hidden:
        assert f"http://testserver/d/{text.pk}/" not in listed
    assert not any("/admin/" in loc or "healthz" in loc for loc in listed)


def test_a_text_hidden_by_reports_leaves_the_sitemap() -> None:
    text = GeneratedDescriptionFactory.create()
    before = _locations(Client(), "/sitemap-texts.xml")

    GeneratedDescription.objects.filter(pk=text.pk).update(status=Status.PENDING)
    cached = _locations(Client(), "/sitemap-texts.xml")
    cache.clear()  # as SITEMAP_CACHE_SECONDS passing does

    assert f"http://testserver/d/{text.pk}/" in before
    # Built at most every ten minutes: until then a crawler may find it, and gets a 404.
    assert cached == before
    assert f"http://testserver/d/{text.pk}/" not in _locations(Client(), "/sitemap-texts.xml")


def test_a_long_sitemap_is_split_into_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TextSitemap, "limit", 2)
    texts = [GeneratedDescriptionFactory.create() for _ in range(5)]
    client = Client()

    sections = _locations(client, "/sitemap.xml")
    pages = [section for section in sections if "sitemap-texts.xml" in section]

    assert pages == [
        "http://testserver/sitemap-texts.xml",
        "http://testserver/sitemap-texts.xml?p=2",
        "http://testserver/sitemap-texts.xml?p=3",
    ]
    listed = [loc for page in pages for loc in _locations(client, page)]
    assert listed == [f"http://testserver/d/{text.pk}/" for text in texts]
