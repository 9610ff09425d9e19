from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from generator.models import GeneratedDescription


def home(request: HttpRequest) -> HttpResponse:
    description = (
        GeneratedDescription.objects.filter(status=GeneratedDescription.Status.APPROVED)
        .order_by("times_served", "id")
        .first()
    )
    return render(request, "home.html", {"description": description})
