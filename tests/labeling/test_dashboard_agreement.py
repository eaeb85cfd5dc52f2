"""The agreement section of the study page: report, progress, staleness, failure, "compute now", htmx polling."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labeling import selectors
from labeling.models import AgreementReport
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory, rate_next

pytestmark = pytest.mark.django_db

FORMS = {
    "ICC(1,1)": ("ICC(1)", 0.41), "ICC(2,1)": ("ICC(A,1)", 0.43), "ICC(3,1)": ("ICC(C,1)", 0.45),
    "ICC(1,k)": ("ICC(k)", 0.68), "ICC(2,k)": ("ICC(A,k)", 0.69), "ICC(3,k)": ("ICC(C,k)", 0.71),
}  # fmt: skip


def ci(estimate, low=None, high=None):
    return {"estimate": estimate, "low": low, "high": high, "confidence": 0.95, "n_resamples": 1000,
            "n_valid": 1000, "n_units": 3}  # fmt: skip


def dimension(clips, alpha=0.612, sd_shift=0.0):
    """One dimension of a result in the agreed shape (docs of the report: /tmp/report_schema.md)."""
    rows = [{"clip": c.pk, "name": c.original_name, "n": 3, "mean": 0.2 * i - 0.3, "sd": 0.1 + 0.3 * i + sd_shift}
            for i, c in enumerate(clips)]  # fmt: skip
    return {
        "alpha_interval": ci(alpha, alpha - 0.1 if alpha is not None else None, alpha + 0.1 if alpha is not None else None),
        "alpha_ordinal": ci(None if alpha is None else alpha - 0.02),
        "icc": {
            "forms": {k: {"name": k, "mcgraw_wong": mw, "value": v, "ci_low": v - 0.2, "ci_high": v + 0.1, "f": 3.2,
                          "df1": 2, "df2": 4, "p_value": 0.012} for k, (mw, v) in FORMS.items()},
            "n_units": len(clips), "n_units_dropped": 0, "n_raters": 3,
            "policy": "complete cases: clips rated by the most common rater set",
        },
        "trace_ccc": None,
        "clips": rows,
        "low_agreement": sorted(({k: r[k] for k in ("clip", "name", "n", "sd")} for r in rows), key=lambda r: -r["sd"]),
        "annotators": [{"annotator": 1, "username": "ann", "n_units": 3, "r_loo": 0.82, "alpha_without": 0.55},
                       {"annotator": 2, "username": "bob", "n_units": 3, "r_loo": 0.11, "alpha_without": 0.74}],
        "accumulation": [{"n_annotations": n, "alpha_interval": a} for n, a in [(3, None), (6, 0.4), (9, alpha)]],
    }  # fmt: skip


def result_for(clips, alpha=0.612, count=9, last_id=0):
    return {
        "computed_at": timezone.now().isoformat(),
        "watermark": {"annotation_count": count, "last_annotation_id": last_id},
        "n_clips": len(clips) + 1, "n_clips_rated": len(clips), "n_annotators": 3, "n_annotations": count,
        "n_cannot_judge": 1,
        "bootstrap": {"n_resamples": 1000, "confidence": 0.95, "seed": 0, "unit": "clip"},
        "dimensions": {"valence": dimension(clips, alpha), "arousal": dimension(clips, alpha, sd_shift=0.05)},
        "tags": {"per_tag": {"setting:home": {"alpha": 0.52, "n_present": 4, "n_ratings": 9},
                             "social:alone": {"alpha": None, "n_present": 0, "n_ratings": 9}},
                 "set_alpha": {"masi": 0.31, "jaccard": 0.29}},
        "policy": {"threshold_sd": None, "cap_k": None, "clips_extended": []},
    }  # fmt: skip


def done_report(study, clips, fresh=True, **kw):
    mark = selectors.annotation_watermark(study=study)
    count, last = (mark["annotation_count"], mark["last_annotation_id"]) if fresh else (0, 0)
    now = timezone.now()
    return AgreementReport.objects.create(
        study=study, status="done", progress=1.0, started_at=now - timedelta(seconds=3), finished_at=now,
        duration_s=2.5, watermark_count=count, watermark_last_id=last,
        result=result_for(clips, count=count, last_id=last, **kw),
    )  # fmt: skip


def rate(study, clip, n=1):
    """n annotators rate this clip (the only active one) through the real services."""
    clip.study.clips.exclude(pk=clip.pk).update(is_active=False)
    for _ in range(n):
        rate_next(MembershipFactory(study=study), context_tags=[])


@pytest.fixture
def page(client, study, researcher):
    client.force_login(researcher)
    url = reverse("study-detail", args=[study.pk])

    def get(**headers):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        return response, response.content.decode()

    return get


def status_strip(html):
    start = html.index('<div id="agreement-status"')
    return html[start : html.index("</form>", start)]


def test_no_report_yet_shows_friendly_empty_state_and_button(page, study):
    _, html = page()
    assert '<section id="agreement"' in html and "No agreement report yet" in html
    strip = status_strip(html)
    assert 'data-state="none"' in strip and "Compute agreement now" in strip
    assert f'hx-post="/studies/{study.pk}/agreement/run/"' in strip
    assert f'action="/studies/{study.pk}/agreement/run/"' in strip and 'name="csrfmiddlewaretoken"' in strip
    assert "<svg" not in html


def test_done_report_shows_statistics_plots_and_tables(page, study):
    clips = ClipFactory.create_batch(3, study=study)
    clips[2].original_name = "<script>alert(1)</script>.mp4"
    clips[2].save()
    rate(study, clips[0], 2)
    done_report(study, clips)
    response, html = page()
    strip = status_strip(html)
    assert 'data-state="fresh"' in strip and "Up to date" in strip and "every 10s" in strip
    assert "Computed from <strong>2 ratings</strong>" in strip and "took 2.5 s" in strip
    assert "Recompute now" in strip and " disabled" not in strip
    # α with its interval, all six ICC forms with McGraw & Wong names, counts
    assert (
        '<td class="num" data-dimension="valence"><strong>0.612</strong><span class="ag-ci">[0.512, 0.712]'
        in html
    )
    for form, (mw, value) in FORMS.items():
        assert f">{form}</th>" in html and f">{mw}</td>" in html and f"{value:.3f}" in html
    assert 'title="F(2, 4) = 3.20, p = 0.0120"' in html
    assert "no traces" in html
    # three plots, each with an accessible name
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3
    for title in (
        "Clip means: valence × arousal",
        "Agreement as labels accumulated",
        "Per-annotator reliability",
    ):
        assert f"{title}</title>" in html
    # low-agreement list links to the clip's page; names are escaped everywhere
    assert f'href="/studies/{study.pk}/clips/{clips[2].pk}/"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;.mp4" in html
    # per-annotator table flags bob (α rises without him), per-tag α sorted with undefined last
    assert html.index(">bob</td>") < html.index(">ann</td>")
    flag = 'title="α is higher without this annotator: 0.740 against 0.612 with everyone"'
    assert html.count(flag) == 2  # bob, on both dimensions
    assert html.index("home") < html.index("alone") and "0.520" in html
    assert "MASI distance 0.310, Jaccard distance 0.290" in html


def test_running_report_shows_progress_and_polls_every_two_seconds(page, study):
    clips = ClipFactory.create_batch(2, study=study)
    done_report(study, clips)
    AgreementReport.objects.create(
        study=study, status="running", progress=0.4, progress_message="Bootstrap 400 / 1000 (valence)",
        started_at=timezone.now(),
    )  # fmt: skip
    _, html = page()
    strip = status_strip(html)
    assert 'data-state="running"' in strip and 'hx-trigger="every 2s"' in strip
    assert 'role="progressbar"' in strip and 'aria-valuenow="40"' in strip and "width: 40%" in strip
    assert "Bootstrap 400 / 1000 (valence)" in strip and "Running" in strip
    assert "Computing…</button>" in strip and " disabled" in strip
    assert "the report below stays until this run finishes" in strip
    assert "Clip means: valence × arousal" in html  # the previous report is still shown


def test_pending_report_without_previous_result(page, study):
    report = AgreementReport.objects.create(study=study, status="pending")
    _, html = page()
    strip = status_strip(html)
    assert 'data-state="pending"' in strip and "Queued" in strip and "every 2s" in strip
    assert "Waiting for a worker" in strip
    report.not_before = timezone.now() + timedelta(seconds=20)  # debounced after the last run
    report.save()
    strip = status_strip(page()[1])
    assert "Starts 19\xa0seconds from now" in strip or "Starts 20\xa0seconds from now" in strip
    assert 'aria-valuenow="0"' in strip
    assert "No agreement report yet" not in html  # a run is on its way


def test_stale_report_says_how_many_ratings_are_new(page, study):
    clip = ClipFactory(study=study)
    rate(study, clip, 1)
    done_report(study, [clip])
    rate(study, clip, 2)
    _, html = page()
    strip = status_strip(html)
    assert 'data-state="stale"' in strip and ">Stale</span>" in strip
    assert "<strong>2 new ratings</strong> since this report" in strip and "within ~30 s" in strip
    assert "Computed from <strong>1 rating</strong>" in strip


def test_failed_run_shows_the_error(page, study):
    clips = ClipFactory.create_batch(2, study=study)
    done_report(study, clips)
    AgreementReport.objects.create(
        study=study,
        status="failed",
        error="SoftTimeLimitExceeded: <took too long>",
        finished_at=timezone.now(),
    )
    _, html = page()
    strip = status_strip(html)
    assert 'data-state="failed"' in strip and ">Failed</span>" in strip
    assert "SoftTimeLimitExceeded: &lt;took too long&gt;" in strip and "last one that finished" in strip


def test_degenerate_results_null_alpha_and_one_clip(page, study):
    clip = ClipFactory(study=study)
    report = done_report(study, [clip], alpha=None)
    dims = report.result["dimensions"]
    for d in dims.values():
        d["icc"]["forms"] = {}
        d["annotators"] = []
        d["accumulation"] = [{"n_annotations": 3, "alpha_interval": None}]
    report.result["tags"] = {"per_tag": {}, "set_alpha": {"masi": None, "jaccard": None}}
    report.save()
    _, html = page()
    assert html.count('title="Undefined: no variation or nothing to pair">n/a</span>') == 4
    assert "No clip was rated by a common set of annotators" in html
    assert "Not enough overlapping ratings for α yet." in html
    assert "Needs clips rated by several annotators." in html and "No context tags" in html
    assert f'data-clip="{clip.pk}"' in html  # the one clip is plotted
    assert "MASI distance n/a" in html


# --- htmx partials ---------------------------------------------------------------------------------------


def test_status_poll_and_section_partials(client, study, researcher, django_assert_num_queries):
    clips = ClipFactory.create_batch(2, study=study)
    report = done_report(study, clips)
    AgreementReport.objects.create(study=study, status="running", progress=0.7)
    client.force_login(researcher)
    url = reverse("study-detail", args=[study.pk])
    poll = {"HX-Request": "true", "HX-Target": "agreement-status"}
    # session, user, study, done report, open/failed reports, the two watermarks, worker and beat heartbeats
    with django_assert_num_queries(8):
        response = client.get(url, {"seen": f"{report.pk}-0"}, headers=poll)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="agreement-status"') and html.rstrip().endswith("</div>")
    assert 'aria-valuenow="70"' in html and "<section" not in html and "<html" not in html
    assert "HX-Retarget" not in response.headers
    # the run finished: the poll gets the whole new section, retargeted
    AgreementReport.objects.filter(status="running").update(
        status="done", finished_at=timezone.now(), progress=1, watermark_count=0, watermark_last_id=0,
        result=result_for(clips, alpha=0.777, count=0),
    )  # fmt: skip
    response = client.get(url, {"seen": f"{report.pk}-0"}, headers=poll)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="agreement"') and "<html" not in html
    assert response.headers["HX-Retarget"] == "#agreement" and response.headers["HX-Reswap"] == "outerHTML"
    assert 'data-state="fresh"' in html and "every 10s" in html and "<strong>0.777</strong>" in html
    # the section on its own
    response = client.get(url, headers={"HX-Request": "true", "HX-Target": "agreement"})
    html = response.content.decode()
    assert (
        html.lstrip().startswith('<section id="agreement"')
        and "Coverage" not in html
        and "Recruiting" not in html
    )


def test_full_page_query_count_with_a_report(client, study, researcher):
    clips = ClipFactory.create_batch(30, study=study)
    done_report(study, clips)
    AgreementReport.objects.create(study=study, status="running", progress=0.2, requested_by=researcher)
    client.force_login(researcher)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("study-detail", args=[study.pk])).status_code == 200
    assert len(ctx.captured_queries) == 15  # as without reports (tests/labeling/test_dashboard.py)


# --- "compute now" ---------------------------------------------------------------------------------------


def test_post_starts_a_run_without_js(client, study, researcher):
    client.force_login(researcher)
    response = client.post(reverse("study-agreement-run", args=[study.pk]))
    assert response.status_code == 302 and response["Location"] == f"/studies/{study.pk}/#agreement"
    report = AgreementReport.objects.get(study=study)
    assert report.status in ("pending", "running") and report.requested_by == researcher
    html = client.get(response["Location"]).content.decode()
    assert 'data-state="pending"' in html or 'data-state="running"' in html


def test_post_with_htmx_returns_the_section_polling(client, study, researcher):
    client.force_login(researcher)
    response = client.post(reverse("study-agreement-run", args=[study.pk]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section id="agreement"')
    assert 'hx-trigger="every 2s"' in html and " disabled" in status_strip(html)
    assert AgreementReport.objects.filter(study=study, status__in=AgreementReport.OPEN).count() == 1
    # a second click does not queue a second run
    client.post(reverse("study-agreement-run", args=[study.pk]), headers={"HX-Request": "true"})
    assert AgreementReport.objects.filter(study=study).count() == 1


def test_others_cannot_see_or_start_runs(client, study, researcher):
    done_report(study, ClipFactory.create_batch(2, study=study))
    run = reverse("study-agreement-run", args=[study.pk])
    page = reverse("study-detail", args=[study.pk])
    annotator = MembershipFactory(study=study).user
    other_researcher = MembershipFactory(study=StudyFactory(), role="researcher").user
    for user in (annotator, other_researcher, UserFactory()):
        client.force_login(user)
        assert client.post(run).status_code == 404
        assert client.post(run, headers={"HX-Request": "true"}).status_code == 404
        assert client.get(page, headers={"HX-Request": "true", "HX-Target": "agreement"}).status_code == 404
    client.logout()
    assert client.post(run).status_code == 302  # to the log-in page
    client.force_login(researcher)
    assert client.get(run).status_code == 405
    assert AgreementReport.objects.filter(study=study, status__in=AgreementReport.OPEN).count() == 0


def test_mixed_instruments_warning_and_omitted_annotator_table_are_shown(page, study):
    clips = ClipFactory.create_batch(3, study=study)
    report = done_report(study, clips)
    result = report.result
    warning = "Mixed instruments: the ratings come from 2 scheme versions (v1: sam 9-point, v2: slider)."
    result["notes"] = {"scale": "Ratings on -1..1.", "mixed_instruments": warning}
    for dim, alphas in (("valence", (0.71, 0.42)), ("arousal", (0.55, None))):
        result["dimensions"][dim]["by_scheme_version"] = [
            {"version": v, "alpha_interval": a, "n_ratings": 9, "n_pairable_clips": 3}
            for v, a in zip((1, 2), alphas, strict=True)
        ]
        result["dimensions"][dim]["annotators"] = []
        result["dimensions"][dim]["annotators_omitted"] = "left out: 120 cells, above the cap"
    AgreementReport.objects.filter(pk=report.pk).update(result=result)
    _, html = page()
    line = html[html.index('<p class="dash-alert warn ag-mixed" role="alert">') :]
    line = line[: line.index("</p>")]
    assert warning in line
    assert "v1 valence 0.710, arousal 0.550; v2 valence 0.420, arousal n/a." in line
    assert "Per-annotator table left out: 120 cells, above the cap." in html


def test_no_warning_line_for_one_instrument(page, study):
    done_report(study, ClipFactory.create_batch(2, study=study))
    _, html = page()
    assert "ag-mixed" not in html and "Mixed instruments" not in html
