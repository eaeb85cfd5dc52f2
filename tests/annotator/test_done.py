"""The end page: finished only when no clip can come to the annotator any more; a closed study never loops;
huge ids in the annotator's URLs are 404, not 500."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labeling import services
from labeling.models import Assignment, Clip
from labeling.selectors import Outlook, annotator_outlook
from labeling.services.annotations import FULL_VIEW_FRACTION
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.factories import rating_data as rating

pytestmark = pytest.mark.django_db


def done_url(study):
    return reverse("study-done", args=[study.pk])


def queue_url(study):
    return reverse("study-queue", args=[study.pk])


@pytest.fixture
def busy_study():
    """K=1, two clips, both leased by other annotators right now."""
    study = StudyFactory(overlap_k=1, completion_code="PAYME")
    ClipFactory.create_batch(2, study=study)
    others = [MembershipFactory(study=study) for _ in range(2)]
    leases = [services.assignment_claim_next(membership=m) for m in others]
    return study, others, leases


# ---------- all clips with room leased by others: wait, no code ----------


def test_no_code_while_every_clip_is_leased_by_others(client, busy_study):
    study, _, _ = busy_study
    worker = MembershipFactory(study=study, joined_via="crowd")
    client.force_login(worker.user)
    response = client.get(queue_url(study), follow=True)
    body = response.content.decode()
    assert response.redirect_chain == [(done_url(study), 302)]
    assert "PAYME" not in body and "being rated by others right now" in body
    assert f'<meta http-equiv="refresh" content="10;url={queue_url(study)}">' in body
    assert response["Cache-Control"] == "no-store"
    worker.refresh_from_db()
    assert worker.completed_at is None


def test_a_lapsed_lease_comes_back_to_the_waiting_annotator(client, busy_study):
    study, _, leases = busy_study
    worker = MembershipFactory(study=study)
    client.force_login(worker.user)
    assert "being rated by others" in client.get(done_url(study)).content.decode()
    Assignment.objects.filter(pk=leases[0].pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(queue_url(study))  # what the waiting page's refresh opens
    mine = Assignment.objects.get(annotator=worker.user)
    assert mine.clip_id == leases[0].clip_id
    assert response["Location"] == reverse("study-rate", args=[study.pk, mine.pk])


def test_finished_once_the_others_have_rated_everything(client, busy_study):
    study, others, leases = busy_study
    worker = MembershipFactory(study=study)
    client.force_login(worker.user)
    for lease in leases:
        services.annotation_submit(assignment=lease, data=rating())
    body = client.get(done_url(study)).content.decode()
    assert "You are finished" in body and "PAYME" in body and "being rated" not in body
    worker.refresh_from_db()
    assert worker.completed_at is not None


def test_the_end_page_probes_are_bounded(busy_study):
    """Three EXISTS probes with LIMIT 1, never a COUNT over the study's clips."""
    study, _, _ = busy_study
    ClipFactory.create_batch(30, study=study, target_k=1, n_assigned=1, n_submitted=1)  # full clips
    worker = MembershipFactory(study=study)
    with CaptureQueriesContext(connection) as ctx:
        assert annotator_outlook(membership=worker) == Outlook.WAIT
    sql = [q["sql"].upper() for q in ctx.captured_queries]
    assert len(sql) == 3
    assert all("LIMIT 1" in q and "COUNT(" not in q for q in sql)


def test_outlook_states(busy_study):
    study, others, leases = busy_study
    assert annotator_outlook(membership=others[0]) == Outlook.CONTINUE  # holds a lease
    fresh = MembershipFactory(study=study)
    assert annotator_outlook(membership=fresh) == Outlook.WAIT
    ClipFactory(study=study)
    assert annotator_outlook(membership=fresh) == Outlook.CONTINUE  # a clip with room
    study.is_active = False
    study.save()
    fresh.study.refresh_from_db()
    assert annotator_outlook(membership=fresh) == Outlook.CLOSED


# ---------- a closed study: finished, never a loop ----------


def test_closed_study_with_a_preloaded_lease_finishes_with_the_code(client):
    study = StudyFactory(overlap_k=3, completion_code="CODE123")
    ClipFactory.create_batch(3, study=study)
    m = MembershipFactory(study=study)
    services.annotation_submit(assignment=services.assignment_claim_next(membership=m), data=rating())
    a1 = services.assignment_claim_next(membership=m)
    services.assignment_claim_next(membership=m, exclude_ids=[a1.pk])  # the next clip, preloaded
    services.annotation_submit(assignment=a1, data=rating())
    study.is_active = False
    study.save()
    client.force_login(m.user)
    body = client.get(done_url(study)).content.decode()
    assert "CODE123" in body and "This study is closed" in body and "Not finished" not in body
    m.refresh_from_db()
    assert m.completed_at is not None


def test_closed_study_with_a_lapsed_lease_does_not_loop(client):
    """The lease held is past its end but not yet swept: the queue cannot hand it back, so the end page
    must not send the annotator there ("Not finished yet -> Continue -> done -> ...")."""
    study = StudyFactory(overlap_k=3, completion_code="CODE123")
    ClipFactory.create_batch(3, study=study)
    m = MembershipFactory(study=study)
    a1 = services.assignment_claim_next(membership=m)
    services.annotation_submit(assignment=a1, data=rating())
    a2 = services.assignment_claim_next(membership=m)
    Assignment.objects.filter(pk=a2.pk).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    study.is_active = False
    study.save()
    client.force_login(m.user)
    response = client.get(queue_url(study), follow=True)
    body = response.content.decode()
    assert response.redirect_chain == [(done_url(study), 302)]
    assert "CODE123" in body and "Not finished" not in body and queue_url(study) not in body


def test_closed_study_before_any_rating_says_so_and_gives_no_code(client):
    study = StudyFactory(completion_code="C0DE", completion_url="https://app.prolific.com/complete")
    ClipFactory.create_batch(2, study=study)
    m = MembershipFactory(study=study, joined_via="crowd")
    services.assignment_claim_next(membership=m)  # a lease, but nothing rated
    study.is_active = False
    study.save()
    client.force_login(m.user)
    response = client.get(done_url(study))
    body = response.content.decode()
    assert response.status_code == 200  # not the redirect to the platform with the code
    assert "closed before you could start" in body and "C0DE" not in body and "Not finished" not in body
    m.refresh_from_db()
    assert m.completed_at is None


def test_closed_study_sends_a_crowd_worker_who_rated_to_the_completion_url(client):
    study = StudyFactory(completion_code="C0DE", completion_url="https://app.prolific.com/complete")
    ClipFactory.create_batch(3, study=study)
    m = MembershipFactory(study=study, joined_via="crowd")
    services.annotation_submit(assignment=services.assignment_claim_next(membership=m), data=rating())
    study.is_active = False
    study.save()
    client.force_login(m.user)
    response = client.get(done_url(study))
    assert response.status_code == 302 and response["Location"] == "https://app.prolific.com/complete?cc=C0DE"


def test_a_lease_on_a_clip_taken_out_of_the_study_does_not_keep_the_annotator_unfinished(client):
    study = StudyFactory(overlap_k=1, completion_code="CODE9")
    clip = ClipFactory(study=study)
    m = MembershipFactory(study=study)
    services.assignment_claim_next(membership=m)
    Clip.objects.filter(pk=clip.pk).update(is_active=False)  # e.g. switched off in the admin
    client.force_login(m.user)
    response = client.get(queue_url(study), follow=True)
    assert response.redirect_chain == [(done_url(study), 302)]
    assert "Not finished" not in response.content.decode()


# ---------- the rating page and the server agree on "watched" ----------


def test_rating_page_renders_the_servers_full_view_threshold_and_the_user(client):
    study = StudyFactory()
    ClipFactory(study=study)
    m = MembershipFactory(study=study)
    client.force_login(m.user)
    a = services.assignment_claim_next(membership=m)
    body = client.get(reverse("study-rate", args=[study.pk, a.pk])).content.decode()
    assert f'data-full-view-fraction="{FULL_VIEW_FRACTION!r}"' in body
    config = json.loads(body.split('type="application/json">')[1].split("</script>")[0])
    assert config["userId"] == m.user_id and config["studyId"] == study.pk
    assert "fullViewFraction" not in config  # one source: the data attribute
    assert 'id="view-hint-text"' in body


# ---------- huge ids ----------

BIG = [10**20, 2**63, 99999999999999999999999999999]


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize(
    "template",
    [
        "/s/{big}/",
        "/s/{big}/consent/",
        "/s/{big}/declined/",
        "/s/{big}/done/",
        "/s/{big}/a/1/",
        "/s/{sid}/a/{big}/",
    ],
)
def test_huge_ids_in_annotator_urls_are_404(client, template, big):
    m = MembershipFactory()
    client.force_login(m.user)
    client.raise_request_exception = True
    response = client.get(template.format(big=big, sid=m.study_id))
    assert response.status_code == 404


def test_largest_64_bit_id_is_a_plain_404(client):
    m = MembershipFactory()
    client.force_login(m.user)
    top = 2**63 - 1
    assert client.get(f"/s/{top}/").status_code == 404
    assert client.get(f"/s/{m.study_id}/a/{top}/").status_code == 404


def test_the_url_resolver_itself_refuses_ids_past_64_bits():
    """No view (and no query) runs for such an id: the <dbid:...> converter does not match it."""
    from django.urls import Resolver404, resolve

    assert resolve(f"/s/{2**63 - 1}/a/7/").kwargs == {"study_id": 2**63 - 1, "assignment_id": 7}
    for path in [f"/s/{2**63}/", f"/s/1/a/{10**19}/", f"/s/{10**25}/done/"]:
        with pytest.raises(Resolver404):
            resolve(path)
    assert reverse("study-rate", args=[3, 4]) == "/s/3/a/4/"
