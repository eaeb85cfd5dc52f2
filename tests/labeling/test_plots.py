"""The agreement plots: well-formed, accessible SVG that puts points where the data says and escapes names."""

import math
import xml.etree.ElementTree as ET

import pytest

from labeling import plots

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("viewBox")
    title, desc = root.find("s:title", NS), root.find("s:desc", NS)
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def point(clip, v, a, vsd=0.1, asd=0.2, n=3, name=None):
    return {"clip": clip, "name": name or f"clip{clip}.mp4", "n": n,
            "valence": v, "valence_sd": vsd, "arousal": a, "arousal_sd": asd}  # fmt: skip


def frame(root):
    rect = root.find(".//s:rect[@class='frame']", NS)
    x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, w, h


def test_scatter_corners_land_on_the_plot_corners():
    root = parse(plots.scatter_va([point(1, -1, -1), point(2, 1, 1), point(3, 0, 0, vsd=None, asd=None)]))
    x, y, w, h = frame(root)
    dots = {g.get("data-clip"): g.find("s:circle", NS) for g in root.iterfind(".//s:g[@class='ag-pt']", NS)}
    assert (float(dots["1"].get("cx")), float(dots["1"].get("cy"))) == (x, y + h)  # bottom left
    assert (float(dots["2"].get("cx")), float(dots["2"].get("cy"))) == (x + w, y)  # top right
    assert (float(dots["3"].get("cx")), float(dots["3"].get("cy"))) == (x + w / 2, y + h / 2)
    assert w == h  # the affect space is square
    # ±1 sd ellipse: radius is sd × half the side; a clip with one rating (sd null) gets no ellipse
    ellipse = root.find(".//s:g[@data-clip='1']/s:ellipse", NS)
    assert float(ellipse.get("rx")) == pytest.approx(0.1 * w / 2, abs=0.06)
    assert float(ellipse.get("ry")) == pytest.approx(0.2 * h / 2, abs=0.06)
    assert root.find(".//s:g[@data-clip='3']/s:ellipse", NS) is None


def test_scatter_highlights_low_agreement_clips_and_names_them_on_hover():
    root = parse(plots.scatter_va([point(1, 0.2, 0.3), point(2, -0.5, 0.1, vsd=0.8)], highlight={2}))
    hot = root.findall(".//s:g[@class='ag-pt hot']", NS)
    assert [g.get("data-clip") for g in hot] == ["2"]
    assert hot[0].find("s:path", NS) is not None  # a diamond, not only another colour
    tip = hot[0].find("s:title", NS).text
    assert tip.startswith("clip2.mp4 · n = 3") and "low agreement" in tip and "−0.50 ± 0.80" in tip
    assert "2 clips" in root.find("s:desc", NS).text and "1 low-agreement" in root.find("s:desc", NS).text


def test_names_are_escaped():
    name = '<script>alert("x")</script> & \x00co'
    svg = plots.scatter_va([point(1, 0, 0, name=name)])
    assert "<script>" not in svg and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in svg
    root = parse(svg)  # and it still parses
    assert root.find(".//s:g[@data-clip='1']/s:title", NS).text.startswith('<script>alert("x")</script> & co')
    rows = [{"annotator": 1, "username": "<b>eve</b>", "n": 4, "valence_r": 0.5, "arousal_r": 0.4}]
    svg = plots.reliability_plot(rows)
    assert "<b>" not in svg and "&lt;b&gt;eve&lt;/b&gt;" in svg
    parse(svg)


def test_scatter_caps_points_but_keeps_every_highlighted_clip():
    pts = [point(i, (i % 21) / 10 - 1, (i % 17) / 8 - 1, n=i % 5 + 1) for i in range(300)]
    root = parse(plots.scatter_va(pts, highlight={7, 299}, max_points=50))
    shown = {g.get("data-clip") for g in root.iterfind(".//s:g[@data-clip]", NS)}
    assert len(shown) == 50 and {"7", "299"} <= shown
    assert "50 clips of 300" in root.find("s:desc", NS).text


@pytest.mark.parametrize(
    "svg",
    [
        plots.scatter_va([]),
        plots.scatter_va([point(1, None, None)]),
        plots.accumulation_plot({}),
        plots.accumulation_plot({"valence": [{"n_annotations": 10, "alpha_interval": None}]}),
        plots.reliability_plot([]),
        plots.reliability_plot(
            [{"annotator": 1, "username": "a", "n": 1, "valence_r": None, "arousal_r": None}]
        ),
    ],
)
def test_empty_inputs_give_a_placeholder_that_says_why(svg):
    root = parse(svg)
    assert "ag-empty" in root.get("class")
    assert root.find("s:text", NS).text == root.find("s:desc", NS).text


def test_accumulation_scales_and_breaks_at_undefined_alpha():
    series = {
        "valence": [{"n_annotations": n, "alpha_interval": a} for n, a in [(0, None), (50, 0.2), (100, 0.6), (200, 1.0)]],
        "arousal": [{"n_annotations": n, "alpha_interval": a} for n, a in [(50, -0.4), (100, None), (200, 0.5)]],
    }  # fmt: skip
    root = parse(plots.accumulation_plot(series))
    x, y, w, h = frame(root)
    valence = root.find(".//s:g[@data-dimension='valence']", NS)
    (line,) = valence.findall("s:polyline", NS)  # 3 defined points, one line
    pts = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    assert pts[-1] == (x + w, y)  # (n max, α = 1) is the top right corner
    assert pts[0][0] == pytest.approx(x + w / 4, abs=0.06)
    arousal = root.find(".//s:g[@data-dimension='arousal']", NS)
    assert arousal.findall("s:polyline", NS) == []  # the null at 100 leaves two single points
    assert len(arousal.findall(".//s:rect", NS)) == 2  # square markers
    lowest = min(float(r.get("y")) + float(r.get("height")) / 2 for r in arousal.findall(".//s:rect", NS))
    assert lowest < y + h  # -0.4 is inside the axis, which extends below zero
    assert "latest: valence 1.000, arousal 0.500" in root.find("s:desc", NS).text
    assert "0.800" in ET.tostring(root, encoding="unicode")  # the α guide lines


def test_reliability_rows_sorted_with_counts():
    rows = [
        {"annotator": 1, "username": "low", "n": 30, "valence_r": 0.1, "arousal_r": -0.3},
        {"annotator": 2, "username": "high", "n": 12, "valence_r": 0.9, "arousal_r": 0.8},
        {"annotator": 3, "username": "only-valence", "n": 5, "valence_r": 0.5, "arousal_r": None},
    ]
    root = parse(plots.reliability_plot(rows))
    order = [g.get("data-annotator") for g in root.iterfind(".//s:g[@class='ag-row']", NS)]
    assert order == ["2", "3", "1"]
    texts = [t.text for t in root.iterfind(".//s:g[@class='ag-row']/s:text", NS)]
    assert texts == ["high", "12", "only-valence", "5", "low", "30"]
    x, y, w, h = frame(root)
    (circle,) = root.findall(".//s:g[@data-annotator='2']/s:circle", NS)
    assert float(circle.get("cx")) == pytest.approx(
        x + w * (0.9 + 0.4) / 1.4, abs=0.06
    )  # axis from -0.4 to 1


def test_nice_ticks_and_numbers():
    assert plots.nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert plots.nice_ticks(0, 1234, 6) == [0, 250, 500, 750, 1000, 1250][:5]
    assert plots.fnum(-0.001) == "0.00" and plots.fnum(-0.5) == "−0.50"
    assert plots.fnum(None) == plots.fnum(math.nan) == "—"


# --- shaping the result ------------------------------------------------------------------------------


def dims():
    def dim(sds, annotators, alpha):
        return {
            "alpha_interval": {"estimate": alpha},
            "clips": [{"clip": c, "name": f"c{c}", "n": 3, "mean": 0.1 * c, "sd": sd} for c, sd in sds.items()],
            "low_agreement": [{"clip": c, "name": f"c{c}", "n": 3, "sd": sd} for c, sd in sds.items() if sd and sd > 0.5],
            "annotators": annotators,
        }  # fmt: skip

    return {
        "valence": dim({1: 0.1, 2: 0.9, 3: None}, [
            {"annotator": 7, "username": "ann", "n_units": 3, "r_loo": 0.9, "alpha_without": 0.2},
            {"annotator": 8, "username": "bob", "n_units": 2, "r_loo": -0.2, "alpha_without": 0.6}], 0.4),
        "arousal": dim({1: 0.7, 2: 0.2, 4: 0.3}, [
            {"annotator": 8, "username": "bob", "n_units": 3, "r_loo": 0.1, "alpha_without": None}], None),
    }  # fmt: skip


def test_clip_points_join_both_dimensions():
    pts = plots.clip_points(dims())
    assert [p["clip"] for p in pts] == [1, 2]  # 3 and 4 lack one dimension
    assert pts[0] == {"clip": 1, "name": "c1", "n": 3, "valence": 0.1, "valence_sd": 0.1,
                      "arousal": 0.1, "arousal_sd": 0.7}  # fmt: skip


def test_low_agreement_rows_union_widest_first():
    rows = plots.low_agreement_rows(dims())
    assert [(r["clip"], r["flags"], r["valence_sd"], r["arousal_sd"]) for r in rows] == [
        (2, ["valence"], 0.9, 0.2),
        (1, ["arousal"], 0.1, 0.7),
    ]


def test_annotator_rows_flag_who_lowers_alpha():
    rows = {r["annotator"]: r for r in plots.annotator_rows(dims())}
    assert rows[8]["valence_flag"] is True and rows[7]["valence_flag"] is False  # 0.6 > 0.4 without bob
    assert rows[8]["n"] == 3 and rows[8]["arousal_r"] == 0.1 and rows[8]["arousal_flag"] is False
    assert "arousal_r" not in rows[7]
    assert list(rows) == [8, 7]  # least consistent first, for review


def test_tag_rows_sorted_with_undefined_last():
    tags = {"per_tag": {"setting:home": {"alpha": 0.3, "n_present": 4, "n_ratings": 9},
                        "social:alone": {"alpha": None, "n_present": 0, "n_ratings": 9},
                        "setting:work": {"alpha": -0.2, "n_present": 2, "n_ratings": 9},
                        "plain": {"alpha": 0.9, "n_present": 7, "n_ratings": 9}}}  # fmt: skip
    rows = plots.tag_rows(tags)
    assert [r["tag"] for r in rows] == ["plain", "setting:home", "setting:work", "social:alone"]
    assert (rows[1]["group"], rows[1]["label"], rows[1]["bar"]) == ("setting", "home", 30.0)
    assert rows[2]["bar"] == 0.0 and rows[0]["group"] == ""
    assert plots.tag_rows(None) == []


def test_report_figures_highlight_the_widest_fifth_or_the_policy_threshold():
    result = {"dimensions": dims(), "tags": None, "policy": {"threshold_sd": None}}
    fig = plots.report_figures(result)
    assert [(r["clip"], r["highlight"]) for r in fig["low_agreement"]] == [(2, True), (1, False)]
    assert 'class="ag-pt hot" data-clip="2"' in fig["scatter_svg"] and fig["highlight_rule"].startswith(
        "the widest"
    )
    result["policy"]["threshold_sd"] = 0.6
    fig = plots.report_figures(result)
    assert [(r["clip"], r["highlight"]) for r in fig["low_agreement"]] == [(2, True), (1, True)]
    assert fig["highlight_rule"] == "sd above 0.60"
    assert [c["estimate"] for c in fig["alpha_rows"][0]["cells"]] == [0.4, None]
    assert fig["icc_rows"] == [] and fig["tags"] == []
    for key in ("scatter_svg", "accumulation_svg", "reliability_svg"):
        parse(fig[key])


def test_icc_rows_in_shrout_fleiss_order_with_recommended_forms():
    forms = {k: {"mcgraw_wong": mw, "value": 0.5, "model": "two-way random", "type": "absolute agreement",
                 "unit": "single rater"} for k, mw in [("ICC(3,k)", "ICC(C,k)"), ("ICC(1,1)", "ICC(1)"), ("ICC(2,1)", "ICC(A,1)")]}  # fmt: skip
    rows = plots.icc_rows({"valence": {"icc": {"forms": forms, "recommended": ["ICC(2,1)"]}}, "arousal": {}})
    assert [(r["form"], r["mcgraw_wong"], r["recommended"]) for r in rows] == [
        ("ICC(1,1)", "ICC(1)", False), ("ICC(2,1)", "ICC(A,1)", True), ("ICC(3,k)", "ICC(C,k)", False),
    ]  # fmt: skip
    assert rows[0]["kind"] == "two-way random, absolute agreement, single rater"
    assert [c["dimension"] for c in rows[0]["cells"]] == ["valence", "arousal"] and "value" not in rows[0][
        "cells"
    ][1]


# --- perceived vs experienced --------------------------------------------------------------------------------

PE_ROWS = [
    {"clip": 3, "name": "a<b>.mp4", "valence": {"mean": -1.0, "self": -1.0, "n": 3, "gap": 0.0}},
    {"clip": 4, "name": "b.mp4", "valence": {"mean": 1.0, "self": 0.0, "n": 2, "gap": -1.0}},
    {"clip": 5, "name": "c.mp4", "valence": {"mean": None, "self": 0.5, "n": 0, "gap": None}},
]


def test_perceived_scatter_puts_observers_across_own_report_up_with_links_and_the_identity_line():
    svg = plots.perceived_scatter(PE_ROWS, "valence", href="/studies/9/clips/{clip}/")
    root = parse(svg)
    assert "observers' mean vs the person's own report" in root.find("s:title", NS).text
    desc = root.find("s:desc", NS).text
    assert desc.startswith("2 clips") and "0 clips lie above it" in desc and "1 below" in desc
    links = root.findall(".//s:a", NS)
    assert [a.get("href") for a in links] == ["/studies/9/clips/3/", "/studies/9/clips/4/"]
    dots = [a.find(".//s:circle", NS) for a in links]
    # x = observers' mean, y = own report: (-1, -1) is the bottom-left corner, (1, 0) the right middle
    left, top, size = 58, 28, 320
    assert (float(dots[0].get("cx")), float(dots[0].get("cy"))) == (left, top + size)
    assert (float(dots[1].get("cx")), float(dots[1].get("cy"))) == (left + size, top + size / 2)
    line = root.find(".//s:line[@class='pe-identity']", NS)
    assert (float(line.get("x1")), float(line.get("y1")), float(line.get("x2")), float(line.get("y2"))) == (
        left, top + size, left + size, top,
    )  # fmt: skip
    assert "a&lt;b&gt;.mp4" in svg and "<b>" not in svg


def test_perceived_scatter_without_pairs_says_why():
    root = parse(plots.perceived_scatter(PE_ROWS[2:], "arousal"))
    assert "No clip has both" in root.find("s:desc", NS).text


def test_clip_plane_ellipse_is_the_covariance_one_sd_ellipse():
    # three ratings on a line valence = arousal: variances 1/3·..., covariance equal -> a 45° needle
    ratings = [{"valence": -0.5, "arousal": -0.5}, {"valence": 0.0, "arousal": 0.0}, {"valence": 0.5, "arousal": 0.5},
               {"valence": None, "arousal": 0.2}]  # fmt: skip
    own = [{"valence": 0.75, "arousal": -0.25, "label": "whole clip", "whole": True},
           {"valence": 0.1, "arousal": None, "label": "0–1 s", "whole": False}]  # fmt: skip
    root = parse(plots.clip_plane(ratings, own))
    assert len(root.findall(".//s:g[@class='pe-rating']", NS)) == 3
    assert len(root.findall(".//s:g[@class='pe-self']", NS)) == 1  # a report without arousal is not placed
    ellipse = root.find(".//s:ellipse[@class='pe-ellipse']", NS)
    # sample variances .25 each, covariance .25: eigenvalues .5 and 0 -> radii sqrt(.5) and 0 at 45°
    assert float(ellipse.get("rx")) == pytest.approx(math.sqrt(0.5) * 180, abs=0.1)
    assert float(ellipse.get("ry")) == pytest.approx(0.004 * 180, abs=0.1)
    assert ellipse.get("transform").startswith("rotate(-45.0 ")
    assert (ellipse.get("cx"), ellipse.get("cy")) == ("238.0", "214.0")  # the mean (0, 0): the centre
    desc = root.find("s:desc", NS).text
    assert "3 observer ratings" in desc and "own report whole clip: valence 0.75, arousal −0.25" in desc
