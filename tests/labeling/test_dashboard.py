"""The researcher study page, its htmx partial, the studies list and the clip upload page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.demo import render_demo_clip
from labeling.models import Clip, Invite
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory, rate_next

pytestmark = pytest.mark.django_db


def test_study_page_shows_coverage_annotators_and_activity(client, dashboard_setup):
    study = dashboard_setup["study"]
    Invite.objects.create(study=study, note="lab cohort", token="tok-123")
    client.force_login(dashboard_setup["researcher"])
    response = client.get(reverse("study-detail", args=[study.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["coverage"]["percent"] == pytest.approx(40.0)
    for ratings, clips in enumerate([2, 1, 1, 1]):
        assert f'<td data-ratings="{ratings}">{clips}</td>' in html
    assert 'role="progressbar"' in html and 'aria-valuenow="40"' in html
    assert 'hx-trigger="every 5s' in html and f'hx-get="/studies/{study.pk}/"' in html
    assert "http://testserver/invite/tok-123/" in html
    assert (
        f"http://testserver/crowd/{study.slug}/?key={study.crowd_key}&amp;PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        in html
    )
    assert "&amp;STUDY_ID={{%STUDY_ID%}}&amp;SESSION_ID={{%SESSION_ID%}}" in html
    assert dashboard_setup["members"][0].user.username in html
    assert 'href="/api/docs/"' in html and f'href="/admin/labeling/study/{study.pk}/change/"' in html
    assert 'enctype="multipart/form-data"' in html  # the upload form works without JS


def test_htmx_request_gets_only_the_partial(client, dashboard_setup):
    client.force_login(dashboard_setup["researcher"])
    response = client.get(
        reverse("study-detail", args=[dashboard_setup["study"].pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="live"')
    assert "<html" not in html and "Upload clips" not in html and "Recruiting" not in html
    assert '<td data-ratings="0">2</td>' in html


def test_others_get_404(client, dashboard_setup):
    study = dashboard_setup["study"]
    url = reverse("study-detail", args=[study.pk])
    other_researcher = MembershipFactory(study=StudyFactory(), role="researcher").user
    annotator = dashboard_setup["members"][0].user
    for user in (annotator, other_researcher, UserFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
        assert client.post(reverse("study-clip-upload", args=[study.pk])).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the log-in page
    assert client.get(reverse("study-detail", args=[999999])).status_code == 302


def test_superuser_sees_any_study(client, dashboard_setup):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(reverse("study-detail", args=[dashboard_setup["study"].pk])).status_code == 200


def _page_queries(client, study, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("study-detail", args=[study.pk]), headers=headers).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_is_pinned_and_independent_of_study_size(client, django_assert_num_queries):
    small, large = StudyFactory(), StudyFactory()
    researcher = UserFactory()
    for study, n_clips in ((small, 2), (large, 40)):
        MembershipFactory(study=study, user=researcher, role="researcher")
        ClipFactory.create_batch(n_clips, study=study)
        Invite.objects.create(study=study)
        for _ in range(3 if study is small else 12):
            rate_next(MembershipFactory(study=study))
    client.force_login(researcher)
    # session, user, study, coverage, annotator counts, annotators, recent, rate, scheme, invites,
    # agreement (latest done report, open/failed reports, annotation and self-report watermarks), worker and
    # beat heartbeats
    with django_assert_num_queries(15):
        client.get(reverse("study-detail", args=[large.pk]))
    assert _page_queries(client, small) == _page_queries(client, large) == 15
    assert _page_queries(client, small, htmx=True) == _page_queries(client, large, htmx=True) == 8


def test_study_list_shows_own_studies_only(client, dashboard_setup):
    other = StudyFactory(title="Somebody else's study")
    client.force_login(dashboard_setup["researcher"])
    response = client.get(reverse("study-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert dashboard_setup["study"].title in html and other.title not in html
    (row,) = response.context["studies"]
    assert (row.n_clips, row.n_annotators, row.n_ratings_done, row.n_ratings_wanted) == (5, 4, 6, 15)


# --- upload ---------------------------------------------------------------------------------------------


@pytest.fixture
def demo_mp4(tmp_path):
    path = render_demo_clip(tmp_path / "demo.mp4", seconds=1.0, fps=10, size=(160, 120))
    return path.read_bytes()


def _upload(client, study, files, htmx=False):
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files]}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(reverse("study-clip-upload", args=[study.pk]), payload, headers=headers)


def test_upload_without_js_reports_each_file(client, study, researcher, media_root, demo_mp4):
    client.force_login(researcher)
    response = _upload(
        client, study, [("good.mp4", demo_mp4), ("notes.mp4", b"just some text, not a video\n" * 20)]
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and "1 imported</strong>, 1 refused" in html
    results = {r.name: r for r in response.context["results"]}
    assert results["good.mp4"].ok and results["good.mp4"].clip.study_id == study.pk
    assert not results["notes.mp4"].ok and "not a video" in results["notes.mp4"].error.lower()
    assert results["notes.mp4"].error in html
    assert list(Clip.objects.filter(study=study).values_list("original_name", flat=True)) == ["good.mp4"]


def test_upload_with_htmx_returns_results_partial_and_triggers_refresh(
    client, study, researcher, media_root, demo_mp4
):
    client.force_login(researcher)
    response = _upload(client, study, [("a.mp4", demo_mp4), ("a-again.mp4", demo_mp4)], htmx=True)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "<form" not in html
    assert response["HX-Trigger"] == "clips-uploaded"
    assert "1 imported</strong>, 1 refused" in html and "duplicate" in html.lower()
    assert Clip.objects.filter(study=study).count() == 1


def test_upload_without_files_says_so(client, study, researcher):
    client.force_login(researcher)
    response = client.post(reverse("study-clip-upload", args=[study.pk]), {})
    assert response.status_code == 400
    assert "Choose one or more video files." in response.content.decode()
    assert client.get(reverse("study-clip-upload", args=[study.pk])).status_code == 200
