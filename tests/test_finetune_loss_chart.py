"""The loss chart is plain SVG: curves, the base line, and nothing unescaped or scripted."""

import xml.etree.ElementTree as ElementTree

from generator.admin.loss_chart import loss_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_the_chart_draws_train_eval_and_base_loss() -> None:
    svg = loss_chart_svg([[1, 4.0], [2, 3.5], [3, 3.1]], [[3, 3.2]], base_eval_loss=4.5)

    root = ElementTree.fromstring(svg)
    polylines = root.findall(f"{SVG}polyline")
    assert len(polylines) == 2
    assert len(polylines[0].get("points", "").split()) == 3
    assert any(line.get("stroke-dasharray") for line in root.findall(f"{SVG}line"))
    assert "<script" not in svg and "on" not in {a[:2] for e in root.iter() for a in e.attrib}


def test_points_that_are_not_numbers_are_left_out() -> None:
    svg = loss_chart_svg([[1, float("nan")], [2, 3.0], [3, float("inf")]], [], None)

    polyline = ElementTree.fromstring(svg).find(f"{SVG}polyline")
    assert polyline is not None
    assert polyline.get("points", "").count(",") == 1


def test_no_curve_means_no_chart() -> None:
    assert loss_chart_svg([], [], 4.0) == ""
