"""Reads behind a self-report link (labeling/selectors/participant_links.py): the key opens its link or nothing,
a link that no longer works says why, and its clips are its participant's own, each rated or not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import selectors, services
from labeling.errors import Gone, NotFound
from labeling.models import Clip, ParticipantLink, SelfReport
from labeling.selectors import scheme_current
from tests.factories import ClipFactory, ParticipantFactory, rating_data, self_report_link

pytestmark = pytest.mark.django_db


def test_a_key_opens_its_link_and_nothing_else(linked):
    assert selectors.participant_link_open(key=linked.key).pk == linked.link.pk
    for key in ("", "nope", linked.key[:-1], linked.key + "x", "k" * 201, None, 7):
        with pytest.raises(NotFound):
            selectors.participant_link_open(key=key)


def test_why_a_link_no_longer_works_first_revoked_then_withdrawn_then_expired(linked):
    link = ParticipantLink.objects.select_related("participant").get(pk=linked.link.pk)
    assert selectors.participant_link_state(link) == "active"
    later = timezone.now() + timedelta(days=15)
    assert selectors.participant_link_state(link, now=later) == "expired"
    with pytest.raises(Gone, match="expired"):
        selectors.participant_link_open(key=linked.key, now=later)
    services.participant_withdraw(participant=linked.participant)
    with pytest.raises(Gone, match="withdrawn"):
        selectors.participant_link_open(key=linked.key, now=later)
    services.participant_link_revoke(link=linked.link, by=None)
    with pytest.raises(Gone, match="switched off"):
        selectors.participant_link_open(key=linked.key)


def test_the_clips_are_the_participants_own_rated_on_the_current_instrument(linked):
    first, second = linked.clips
    ClipFactory(study=linked.foreign_clip.study, participant=linked.participant)  # wrong study: not theirs
    Clip.objects.filter(pk=second.pk).update(is_active=False)  # out of the queue, still theirs to rate
    clips = selectors.participant_clips(link=linked.link, instrument="sam")
    assert [(c.pk, c.rated) for c in clips] == [(first.pk, False), (second.pk, False)]
    data = rating_data()
    services.self_report_submit(link=linked.link, clip=first, data=data, submission_id=data["submission_id"])
    assert [c.rated for c in selectors.participant_clips(link=linked.link, instrument="sam")] == [True, False]
    # On another instrument (the scheme changed) the clip is open again: the natural key is per instrument.
    assert [c.rated for c in selectors.participant_clips(link=linked.link, instrument="slider")] == [
        False,
        False,
    ]
    # A windowed report is not a whole-clip rating.
    SelfReport.objects.create(
        study=linked.study,
        participant=linked.participant,
        clip=second,
        start_s=0.0,
        end_s=1.0,
        instrument="sam",
        scale_points=9,
        valence=0.0,
        valence_raw=5,
        reported_at=timezone.now(),
        source="imported",
        scheme_version=scheme_current(study=linked.study),
    )
    assert selectors.participant_clip(link=linked.link, instrument="sam", clip_id=second.pk).rated is False


def test_one_clip_is_404_unless_theirs(linked):
    for clip_id in (linked.other_clip.pk, linked.foreign_clip.pk, 10**12, 2**70, "x"):
        with pytest.raises(NotFound):
            selectors.participant_clip(link=linked.link, instrument="sam", clip_id=clip_id)


def test_researchers_see_a_participants_links_only_under_their_study(linked):
    elsewhere = linked.foreign_clip.study
    with pytest.raises(NotFound):
        selectors.participant_for_researcher(study=elsewhere, participant_id=linked.participant.pk)
    participant = selectors.participant_for_researcher(
        study=linked.study, participant_id=linked.participant.pk
    )
    newer, _ = self_report_link(participant, consent=False)
    assert [link.pk for link in selectors.participant_links(participant=participant)] == [
        newer.pk,
        linked.link.pk,
    ]
    other = ParticipantFactory(study=linked.study)
    with pytest.raises(NotFound):
        selectors.participant_link_for_researcher(participant=other, link_id=linked.link.pk)
