"""/feed/ is an Atom feed of the newest approved texts, linking to their permalinks."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


def test_the_feed_is_atom_with_approved_entries_newest_first() -> None:
    genre = GenreFactory.create(name="Dramas")
    old = GeneratedDescriptionFactory.create(title="Older One", genres=[genre])
    new = GeneratedDescriptionFactory.create(title="Newer One", text="A & B <tag> meet.")
    GeneratedDescriptionFactory.create(title="Held One", status=GeneratedDescription.Status.OVERFIT)
    GeneratedDescriptionFactory.create(title="Pending", status=GeneratedDescription.Status.PENDING)
    earlier = timezone.now() - timedelta(days=1)
    GeneratedDescription.objects.filter(pk=old.pk).update(created_at=earlier)

    answer = Client().get("/feed/")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "This Movie Does Not Exist: fresh descriptions"
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}updated")
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["Newer One", "Older One"]
    links = [entry.find(f"{ATOM}link") for entry in entries]
    hrefs = [link.get("href") if link is not None else None for link in links]
    assert hrefs == [f"http://testserver/d/{new.pk}/", f"http://testserver/d/{old.pk}/"]
    assert entries[0].findtext(f"{ATOM}summary") == "A & B <tag> meet."
    category = entries[1].find(f"{ATOM}category")
    assert category is not None and category.get("term") == "Dramas"
    assert all(entry.findtext(f"{ATOM}updated") for entry in entries)
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None


def test_the_feed_answers_head_and_refuses_post() -> None:
    assert Client().head("/feed/").status_code == 200
    assert Client().post("/feed/").status_code == 405
