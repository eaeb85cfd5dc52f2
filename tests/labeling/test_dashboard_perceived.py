"""The researcher pages' perceived-vs-experienced parts, through the pages: the study page's section
(id="perceived-experienced") and a clip's page (/studies/<id>/clips/<clip_id>/)."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling import services
from labeling.models import Clip
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.labeling.perceived_helpers import participant, self_report
from tests.labeling.report_helpers import rate_many


@pytest.fixture
def paired(db):
    """Four clips of two participants, three observers each, self-reports on all four."""
    study = StudyFactory(overlap_k=3)
    annotators = [MembershipFactory(study=study) for _ in range(3)]
    people = [participant(study, "P-1"), participant(study, "P-2")]
    clips = [
        ClipFactory(study=study, participant=people[i // 2], original_name=f"c{i}.mp4") for i in range(4)
    ]
    observers = [[0.5, 0.0, 0.25], [-0.5, -0.25, -0.75], [0.75, 0.5, 1.0], [0.0, 0.25, -0.25]]
    rate_many(
        study,
        [(clips[c], annotators[i].user, v, -v, []) for c in range(4) for i, v in enumerate(observers[c])],
    )
    own = [0.75, -0.25, 0.5, -0.5]
    for i, clip in enumerate(clips):
        self_report(clip, people[i // 2], own[i], 0.0, context_note="felt fine" if i == 0 else "")
    self_report(clips[0], people[0], 0.0, None, window=(0.5, 2.0), instrument="slider", scale_points=None,
                valence_raw=0.0, context_tags=["setting:home"])  # fmt: skip
    researcher = MembershipFactory(study=study, role="researcher").user
    return {"study": study, "clips": clips, "researcher": researcher, "annotators": annotators}


def section_of(html: str) -> str:
    match = re.search(r'<section id="perceived-experienced".*?</section>', html, re.S)
    assert match, "the perceived-experienced section is missing"
    return match.group(0)


def test_the_study_page_shows_the_scatter_and_figures_with_their_intervals(client, paired):
    study, clips = paired["study"], paired["clips"]
    services.agreement_run_now(study=study, n_resamples=100)
    client.force_login(paired["researcher"])
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    section = section_of(html)
    assert section.count('class="ag-plot pe-scatter"') == 2  # valence and arousal
    assert "Valence: observers&#x27; mean vs the person&#x27;s own report" in section
    for clip in clips:  # each point (and the per-clip table) links to the clip's page
        assert f'href="/studies/{study.pk}/clips/{clip.pk}/"' in section
    assert "<title" in section and "<desc" in section  # the plots are described
    assert "Correlation (Pearson r)" in section and "Agreement (Lin's CCC)" in section
    assert re.search(r'data-figure="pearson_r"><strong>-?\d\.\d\d</strong> <span class="ag-ci">\[', section)
    assert "Own report outside the observers' range" in section
    # valence: own .75 outside [0, .5]; −.25 inside [−.75, −.25]; .5 inside [.5, 1]; −.5 outside [−.25, .25]
    assert re.search(
        r'data-figure="share_outside_range"><strong>50%</strong> <span class="dash-muted">2 of 4', section
    )
    assert "resamples of participants" in section


def test_without_self_reports_the_section_is_a_plain_note(client, db):
    study = StudyFactory()
    researcher = MembershipFactory(study=study, role="researcher").user
    client.force_login(researcher)
    section = section_of(client.get(reverse("study-detail", args=[study.pk])).content.decode())
    assert "This study has no self-reports" in section and "<svg" not in section


def test_self_reports_before_a_report_say_the_comparison_comes_with_the_next_one(client, paired):
    client.force_login(paired["researcher"])
    section = section_of(client.get(reverse("study-detail", args=[paired["study"].pk])).content.decode())
    assert "5 self-reports" in section and "next agreement report" in section


def test_a_new_self_report_marks_the_report_stale(client, paired):
    study = paired["study"]
    services.agreement_run_now(study=study, n_resamples=20)
    extra = ClipFactory(study=study)
    self_report(extra, participant(study, "P-3"), 0.1, 0.1)
    client.force_login(paired["researcher"])
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert 'data-state="stale"' in html and "1 new self-report" in html


def test_the_clip_page_shows_player_observers_self_reports_and_gap(client, paired):
    study, clip = paired["study"], paired["clips"][0]
    client.force_login(paired["researcher"])
    response = client.get(reverse("study-clip", args=[study.pk, clip.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/media/clips/{clip.pk}/"' in html and "<video" in html
    plane = re.search(r'<figure class="ag-figure" id="clip-plane">.*?</figure>', html, re.S).group(0)
    assert (
        plane.count('class="pe-rating"') == 3 and plane.count('class="pe-self"') == 1
    )  # the window has no arousal
    assert 'class="pe-ellipse"' in plane and 'class="pe-mean"' in plane and "<desc" in plane
    listing = re.search(r'<section class="dash-card" id="self-report".*?</section>', html, re.S).group(0)
    assert listing.count('class="self-report-row"') == 2
    assert "SAM-style scales (9-point)" in listing and "Continuous slider" in listing
    assert "whole clip" in listing and "0.50–2 s" in listing
    assert "8 → 0.75" in listing  # raw on the 9-point scale, canonical
    assert "felt fine" in listing and "setting:home" in listing and "Imported from a file" in listing
    gap = re.search(r'<table class="dash-table ag-stats" id="clip-gap">.*?</table>', html, re.S).group(0)
    # valence: observers .5, 0, .25 -> mean .25, sd .25, range 0 to .5; own .75 (the whole-clip report)
    valence = re.search(r'<tr data-dimension="valence">.*?</tr>', gap, re.S).group(0)
    assert "0.25 ± 0.25" in valence and "0.00 to 0.50" in valence and "<strong>0.50</strong>" in valence
    assert valence.count(">yes<") == 2


def test_the_clip_page_is_404_for_annotators_other_researchers_and_other_studies(client, paired):
    study, clip = paired["study"], paired["clips"][0]
    url = reverse("study-clip", args=[study.pk, clip.pk])
    for user in (
        paired["annotators"][0].user,  # an annotator of this very study, who rated the clip
        MembershipFactory(study=StudyFactory(), role="researcher").user,
        UserFactory(),
    ):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 404 and "P-1" not in response.content.decode()
    client.force_login(paired["researcher"])
    elsewhere = ClipFactory(study=StudyFactory())
    assert client.get(reverse("study-clip", args=[study.pk, elsewhere.pk])).status_code == 404
    Clip.objects.filter(pk=clip.pk).update(withdrawn_at=timezone.now(), is_active=False)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the log-in page


def test_study_page_clip_lists_link_to_the_clip_page(client, paired):
    study = paired["study"]
    client.force_login(paired["researcher"])
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    feed = re.search(r'<ol class="dash-feed">.*?</ol>', html, re.S).group(0)
    assert f'href="/studies/{study.pk}/clips/' in feed
