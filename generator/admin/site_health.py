"""The admin's "Site health" page: the last day's pools, views, batches, rejections and pitches.

It is the health samples' change list, drawn as charts (generator.site_health reads the day,
generator.admin.health_charts draws it); samples are taken by beat, never edited by hand.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from config.admin_site import ReadOnlyAdmin
from generator import site_health
from generator.admin import health_charts
from generator.models import HealthSample

POOL_CHART = {"width": 270, "height": 130}


@admin.register(HealthSample)
class SiteHealthAdmin(ReadOnlyAdmin):
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)  # Django's own refusal
        day = site_health.last_day()
        hours, end = day.hour_starts, day.end
        pools = [
            (
                series.key,
                series.points[-1][1] if series.points else None,
                series.low_water,
                mark_safe(
                    health_charts.lines(
                        f"Fresh texts in pool {series.key}",
                        hours,
                        end,
                        {"fresh": series.points},
                        "texts",
                        reference=("low-water mark", series.low_water),
                        **POOL_CHART,
                    )
                ),
            )
            for series in day.pools
        ]
        charts = {
            "served": health_charts.stacked_bars(
                "Texts served per hour", hours, end, {"served": day.served}, "views"
            ),
            "batches": health_charts.stacked_bars(
                "Batches per hour, by status", hours, end, day.batches, "batches"
            ),
            "rejections": health_charts.stacked_bars(
                "Texts held or dropped per hour, by reason", hours, end, day.rejections, "texts"
            ),
            "pitches": health_charts.lines(
                "Pitch latency per hour",
                hours,
                end,
                {
                    "median": list(zip(hours, day.pitch_median_seconds, strict=True)),
                    "slowest": list(zip(hours, day.pitch_slowest_seconds, strict=True)),
                },
                "seconds",
            ),
        }
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.model._meta,
            "title": "Site health",
            "day": day,
            "pools": pools,
            "charts": {name: mark_safe(svg) for name, svg in charts.items()},
            "totals": {
                "served": sum(day.served),
                "batches": sum(sum(values) for values in day.batches.values()),
                "rejections": sum(sum(values) for values in day.rejections.values()),
                "pitches": sum(day.pitches),
            },
            "sample_minutes": round(settings.HEALTH_SAMPLE_INTERVAL / 60),
        }
        return TemplateResponse(request, "admin/generator/site_health.html", context)
