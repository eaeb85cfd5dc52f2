"""Self-report links (labeling/services/participant_links.py): issuing (key stored only as a hash), revoking,
the consent step, and self_report_submit — the annotators' validation, the study's current scheme, idempotent
by submission id, one report per clip, and every refusal changing nothing."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.errors import Conflict, Gone, NotAllowed, NotFound, ValidationFailed
from labeling.models import ParticipantLink, SelfReport, api_token_hash
from labeling.scheme import to_canonical
from labeling.selectors import scheme_current
from tests.factories import ClipFactory, ParticipantFactory, rating_data, self_report_link

pytestmark = pytest.mark.django_db


def submit(linked, clip=None, **over):
    data = rating_data(**over)
    return services.self_report_submit(
        link=linked.link, clip=clip or linked.clips[0], data=data, submission_id=data["submission_id"]
    )


# ---- issuing and revoking ---------------------------------------------------------------------------------


def test_issue_returns_the_key_once_and_stores_only_its_hash_and_prefix(study, researcher):
    participant = ParticipantFactory(study=study)
    before = timezone.now()
    link, key = services.participant_link_issue(
        participant=participant, by=researcher, days=3, note="  by post "
    )
    assert len(key) == 43  # secrets.token_urlsafe(32)
    stored = ParticipantLink.objects.get(pk=link.pk)
    assert stored.key_hash == api_token_hash(key) and stored.prefix == key[:8]
    assert key not in {str(v) for v in ParticipantLink.objects.filter(pk=link.pk).values().get().values()}
    assert stored.note == "by post" and stored.created_by == researcher
    assert before + timedelta(days=3) <= stored.expires_at <= timezone.now() + timedelta(days=3)
    assert stored.consented_at is None and stored.revoked_at is None
    _, second = services.participant_link_issue(participant=participant, by=researcher)
    assert second != key  # every link its own key


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 91}, "days"),
        ({"days": "14"}, "days"),
        ({"days": True}, "days"),
        ({"days": 1.5}, "days"),
        ({"note": "x" * 201}, "note"),
        ({"note": 7}, "note"),
    ],
)
def test_issue_refuses_bad_input_and_creates_nothing(study, fields, field):
    participant = ParticipantFactory(study=study)
    with pytest.raises(ValidationFailed) as info:
        services.participant_link_issue(participant=participant, by=None, **fields)
    assert field in info.value.errors
    assert not ParticipantLink.objects.exists()


def test_issue_accepts_the_bounds(study):
    participant = ParticipantFactory(study=study)
    for days in (1, 90):
        link, _ = services.participant_link_issue(participant=participant, by=None, days=days)
        assert timedelta(days=days - 1) < link.expires_at - link.created_at <= timedelta(days=days)


def test_no_link_for_a_withdrawn_participant(study):
    participant = ParticipantFactory(study=study)
    services.participant_withdraw(participant=participant)
    with pytest.raises(Conflict, match="withdrawn"):
        services.participant_link_issue(participant=participant, by=None)
    assert not ParticipantLink.objects.exists()


def test_revoke_switches_the_link_off_once(linked, researcher):
    services.participant_link_revoke(link=linked.link, by=researcher)
    first = ParticipantLink.objects.get(pk=linked.link.pk).revoked_at
    assert first is not None
    services.participant_link_revoke(link=linked.link, by=researcher)  # twice: nothing changes
    assert ParticipantLink.objects.get(pk=linked.link.pk).revoked_at == first


def test_consent_is_recorded_once(study):
    link, _ = self_report_link(ParticipantFactory(study=study), consent=False)
    services.participant_link_consent(link=link)
    first = ParticipantLink.objects.get(pk=link.pk).consented_at
    assert first is not None
    services.participant_link_consent(link=link)
    assert ParticipantLink.objects.get(pk=link.pk).consented_at == first


def test_no_consent_on_a_link_that_no_longer_works(study):
    link, _ = self_report_link(ParticipantFactory(study=study), consent=False)
    services.participant_link_revoke(link=link, by=None)
    with pytest.raises(Gone):
        services.participant_link_consent(link=link)
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is None


def test_touch_writes_last_use_at_most_every_few_minutes(linked):
    now = timezone.now()
    services.participant_link_touch(link=linked.link, now=now)
    services.participant_link_touch(link=linked.link, now=now + timedelta(seconds=60))
    assert ParticipantLink.objects.get(pk=linked.link.pk).last_used_at == now
    later = now + timedelta(minutes=6)
    services.participant_link_touch(link=linked.link, now=later)
    assert ParticipantLink.objects.get(pk=linked.link.pk).last_used_at == later


# ---- self_report_submit -----------------------------------------------------------------------------------


def test_a_self_report_records_the_scheme_instrument_and_values(linked):
    before = timezone.now()
    report = submit(linked, context_tags=["social:alone", "setting:home"], context_note="  at home ")
    report.refresh_from_db()
    version = scheme_current(study=linked.study)
    spec = version.spec
    assert (report.study_id, report.participant_id, report.clip_id) == (
        linked.study.pk,
        linked.participant.pk,
        linked.clips[0].pk,
    )
    assert report.source == SelfReport.Source.PLATFORM and report.link_id == linked.link.pk
    assert report.scheme_version_id == version.pk
    assert report.start_s is None and report.end_s is None  # the whole clip
    assert report.instrument == "sam" and report.scale_points == 9
    assert (report.valence_raw, report.arousal_raw) == (7, 3)
    assert report.valence == to_canonical(spec, 7) == 0.5 and report.arousal == to_canonical(spec, 3) == -0.5
    assert (report.valence_confidence, report.arousal_confidence, report.confidence_points) == (4, 2, 5)
    assert report.context_tags == ["setting:home", "social:alone"] and report.context_note == "at home"
    assert before <= report.reported_at <= timezone.now()
    assert report.external_id == "" and report.created_by is None


def test_the_study_current_scheme_is_used(linked):
    slider = {**scheme_current(study=linked.study).spec, "instrument": "slider", "ask_confidence": False}
    services.study_scheme_update(study=linked.study, spec=slider)
    report = submit(linked, valence=0.25, arousal=-0.75, valence_confidence=None, arousal_confidence=None)
    assert report.instrument == "slider" and report.scale_points is None and report.confidence_points is None
    assert (report.valence, report.valence_raw, report.arousal) == (0.25, 0.25, -0.75)
    assert report.valence_confidence is None


def test_a_scheme_a_self_report_used_is_frozen(linked):
    """Editing the scheme after a self-report made with it makes a new version: the report keeps what it
    was given on."""
    used = submit(linked).scheme_version
    spec = {**used.spec, "points": 7}
    new = services.study_scheme_update(study=linked.study, spec=spec)
    assert new.pk != used.pk and new.version == used.version + 1
    used.refresh_from_db()
    assert used.spec["points"] == 9


def test_a_retry_with_the_same_submission_id_returns_the_same_row(linked):
    data = rating_data()
    first = services.self_report_submit(
        link=linked.link, clip=linked.clips[0], data=data, submission_id=data["submission_id"]
    )
    again = services.self_report_submit(
        link=linked.link,
        clip=linked.clips[0],
        data={**data, "valence": 1},
        submission_id=data["submission_id"],
    )
    assert again.pk == first.pk and SelfReport.objects.count() == 1
    with pytest.raises(Conflict, match="another clip"):  # the same id on another clip
        services.self_report_submit(
            link=linked.link, clip=linked.clips[1], data=data, submission_id=data["submission_id"]
        )
    assert SelfReport.objects.count() == 1


def test_a_second_report_on_the_same_clip_is_refused(linked):
    submit(linked)
    with pytest.raises(Conflict, match="already rated") as info:
        submit(linked, valence=2)
    assert info.value.status == 409 and info.value.errors == {"clip": "already rated"}
    assert SelfReport.objects.count() == 1
    submit(linked, clip=linked.clips[1])  # their other clip is still open
    assert SelfReport.objects.count() == 2


def test_the_payload_goes_through_the_annotators_validation(linked):
    """The same messages as annotation_submit, field by field, and nothing stored."""
    bad = {
        "valence": 10,
        "arousal": 2.5,
        "valence_confidence": 6,
        "context_tags": ["setting:moon"],
        "watched_fraction": 0.5,
        "time_on_task_ms": -1,
    }
    with pytest.raises(ValidationFailed) as info:
        submit(linked, **bad)
    errors = info.value.errors
    assert errors["valence"] == "must be between 1 and 9 on this study's scale"
    assert errors["arousal"] == "must be a whole scale point from 1 to 9"
    assert errors["valence_confidence"] == "choose how sure you are, 1 to 5"
    assert errors["context_tags"] == "not in this study's vocabulary: setting:moon"
    assert errors["watched_fraction"] == "watch the clip to the end before rating it"
    assert "time_on_task_ms" in errors
    assert not SelfReport.objects.exists()


def test_cannot_judge_is_not_a_self_report(linked):
    with pytest.raises(ValidationFailed) as info:
        submit(linked, cannot_judge=True, cannot_judge_reason="forgot", valence=None, arousal=None)
    assert "cannot_judge" in info.value.errors
    assert not SelfReport.objects.exists()


@pytest.mark.parametrize("submission_id", [None, "", "not-a-uuid", 7])
def test_a_submission_id_is_required(linked, submission_id):
    with pytest.raises(ValidationFailed) as info:
        services.self_report_submit(
            link=linked.link, clip=linked.clips[0], data=rating_data(), submission_id=submission_id
        )
    assert "submission_id" in info.value.errors
    assert not SelfReport.objects.exists()


def test_not_a_json_object(linked):
    with pytest.raises(ValidationFailed):
        services.self_report_submit(
            link=linked.link, clip=linked.clips[0], data=[1], submission_id=uuid.uuid4()
        )


def test_only_the_participants_own_clips(linked):
    for clip in (linked.other_clip, linked.foreign_clip):
        with pytest.raises(NotFound):
            submit(linked, clip=clip)
    # A clip of the same participant's code in another study is still not theirs.
    stray = ClipFactory(study=linked.foreign_clip.study, participant=linked.participant)
    with pytest.raises(NotFound):
        submit(linked, clip=stray)
    assert not SelfReport.objects.exists()


def test_refused_before_consent(study):
    participant = ParticipantFactory(study=study)
    clip = ClipFactory(study=study, participant=participant)
    link, _ = self_report_link(participant, consent=False)
    data = rating_data()
    with pytest.raises(NotAllowed):
        services.self_report_submit(link=link, clip=clip, data=data, submission_id=data["submission_id"])
    assert not SelfReport.objects.exists()


@pytest.mark.parametrize("how", ["revoked", "expired", "withdrawn"])
def test_refused_once_the_link_no_longer_works(linked, how):
    if how == "revoked":
        services.participant_link_revoke(link=linked.link, by=None)
    elif how == "expired":
        ParticipantLink.objects.filter(pk=linked.link.pk).update(expires_at=timezone.now())
    else:
        services.participant_withdraw(participant=linked.participant)
    with pytest.raises(Gone) as info:
        submit(linked)
    assert info.value.status == 410
    assert not SelfReport.objects.exists()


def test_a_participant_without_annotation_consent_may_still_report(linked):
    """consent_annotation governs showing their clips to annotators; their own report is not annotation."""
    type(linked.participant).objects.filter(pk=linked.participant.pk).update(consent_annotation=False)
    assert submit(linked).pk is not None


# ---- at once (PostgreSQL: real concurrent transactions) ---------------------------------------------------


def _at_once(n: int, work) -> list:
    """Run work(i) in n threads released together; each result or the error it raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_on_one_clip_store_one_and_retries_get_it(study):
    participant = ParticipantFactory(study=study)
    clip = ClipFactory(study=study, participant=participant)
    link, _ = self_report_link(participant)
    retry = str(uuid.uuid4())
    bodies = [rating_data(submission_id=retry if i % 2 else str(uuid.uuid4())) for i in range(8)]
    results = _at_once(
        8,
        lambda i: services.self_report_submit(
            link=link, clip=clip, data=bodies[i], submission_id=bodies[i]["submission_id"]
        ),
    )
    stored = SelfReport.objects.get()
    for body, result in zip(bodies, results, strict=True):
        if isinstance(result, SelfReport):
            assert result.pk == stored.pk and str(result.submission_id) == body["submission_id"]
        else:
            assert isinstance(result, Conflict), result
            assert body["submission_id"] != str(stored.submission_id)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_report_racing_a_withdrawal_is_refused_or_made_before_it(study):
    participant = ParticipantFactory(study=study)
    clips = [ClipFactory(study=study, participant=participant) for _ in range(6)]
    link, _ = self_report_link(participant)
    bodies = [rating_data() for _ in clips]

    def work(i: int):
        if i == len(clips):
            return services.participant_withdraw(participant=participant)
        return services.self_report_submit(
            link=link, clip=clips[i], data=bodies[i], submission_id=bodies[i]["submission_id"]
        )

    results = _at_once(len(clips) + 1, work)
    assert type(participant).objects.get(pk=participant.pk).withdrawn_at is not None
    for result in results[:-1]:
        assert isinstance(result, (SelfReport, Gone)), result
    reports = SelfReport.objects.all()
    assert reports.count() == sum(isinstance(r, SelfReport) for r in results)
    # Each report either committed before the withdrawal took the participant's lock, or was refused; after
    # it, nothing more.
    late = rating_data()
    with pytest.raises(Gone):
        services.self_report_submit(link=link, clip=clips[0], data=late, submission_id=late["submission_id"])
