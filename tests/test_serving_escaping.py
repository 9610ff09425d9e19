"""Generated text is untrusted: HTML in a title or description is shown as text, never run."""

import pytest
from django.test import Client

from tests.factories import GeneratedDescriptionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]

TITLE = "<script>alert('title')</script> & Friends"
TEXT = 'A sitcom whose <img src=x onerror="alert(1)"> markup <script>alert(2)</script> escapes.'


@pytest.mark.parametrize("how", ["page", "htmx", "permalink"])
def test_html_in_a_generated_text_is_escaped(how: str) -> None:
    description = GeneratedDescriptionFactory.create(title=TITLE, text=TEXT)
    visitor = Client()

    if how == "page":
        html = visitor.get("/").content.decode()
    elif how == "htmx":
        html = visitor.get("/", headers={"HX-Request": "true"}).content.decode()
    else:
        html = visitor.get(f"/d/{description.pk}/").content.decode()

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; &amp; Friends" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    if how == "permalink":
        assert '<meta property="og:description" content="A sitcom whose &lt;img' in html
