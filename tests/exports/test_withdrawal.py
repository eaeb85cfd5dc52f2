"""Withdrawal, on the exports side (exports/withdrawal.py, answering labeling/hooks.py).

Withdrawing a participant or an annotator's labels marks every export of the study that holds their data (a
date and what kind, never who); other studies' exports and exports without that data are left alone; a
reinstatement un-marks nothing; an annotator's withdrawal cannot be undone once an export has been built
after it. Most export rows are made directly here (status, watermark, times); the end-to-end tests at the
bottom build real exports (exports.services.export_build) before and after the withdrawals.
"""

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from exports import services as export_services
from exports.build.ids import export_salt, salted
from exports.models import Export
from exports.withdrawal import exports_mark_withdrawn_during_build
from labeling import selectors, services
from labeling.errors import Conflict
from labeling.models import Annotation, AnnotatorEvent, Clip, Membership, Participant, ParticipantEvent
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next, rating_data

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def export(study, status=Export.Status.DONE, *, finished_at=None, started_at=None, watermark_last_id=0):
    version = Export.objects.filter(study=study).count() + 1
    return Export.objects.create(
        study=study,
        version=version,
        parameters={},
        status=status,
        watermark_last_id=watermark_last_id,
        started_at=started_at,
        finished_at=finished_at,
        folder=f"{study.pk}/v{version}" if status == Export.Status.DONE else "",
        salt="s" * 32,
    )


def marks(*exports) -> list[tuple[bool, str]]:
    out = []
    for e in exports:
        e.refresh_from_db()
        out.append((e.withdrawn_data_at is not None, e.withdrawn_note))
    return out


def today() -> str:
    return f"{timezone.localtime():%Y-%m-%d}"


PARTICIPANT_NOTE = "Holds data of a participant who withdrew on {}; build a new export."
ANNOTATOR_NOTE = "Holds ratings of an annotator whose labels were withdrawn on {}; build a new export."
UNMARKED = (False, "")


@pytest.fixture
def setup(study, researcher):
    """A study whose clip of participant P-7 was rated by two annotators; a second study with an export."""
    participant = Participant.objects.create(study=study, code="P-7")
    clip = ClipFactory(study=study, participant=participant)
    ClipFactory(study=study)
    members = [MembershipFactory(study=study) for _ in range(2)]
    for member in members:
        rate_next(member)
        rate_next(member)
    other = StudyFactory()
    return {"participant": participant, "clip": clip, "members": members, "other": other}


def test_a_participants_withdrawal_marks_the_exports_that_hold_their_clips(study, researcher, setup):
    now = timezone.now()
    clip_made = setup["clip"].created_at
    holds = export(study, finished_at=now, watermark_last_id=1)
    before_the_clip = export(study, finished_at=clip_made - HOUR)  # built before the clip existed
    running_before = export(study, Export.Status.RUNNING, started_at=now - HOUR)  # its reads may predate
    pending = export(study, Export.Status.PENDING)  # builds later, from the labels that count then
    failed = export(study, Export.Status.FAILED, finished_at=now)
    elsewhere = export(setup["other"], finished_at=now)
    services.participant_withdraw(participant=setup["participant"], by=researcher, note="asked")
    note = PARTICIPANT_NOTE.format(today())
    assert marks(holds, running_before) == [(True, note)] * 2
    assert marks(before_the_clip, pending, failed, elsewhere) == [UNMARKED] * 4
    assert "P-7" not in note  # a date and what kind, never who
    # A reinstatement does not un-mark anything, and a second withdrawal keeps the first note.
    services.participant_reinstate(participant=setup["participant"], by=researcher, note="mistake")
    assert marks(holds) == [(True, note)]


def test_an_annotators_withdrawal_marks_the_exports_at_or_above_their_first_label(study, researcher, setup):
    spammer = setup["members"][0]
    theirs = sorted(Annotation.objects.filter(annotator=spammer.user).values_list("id", flat=True))
    now = timezone.now()
    holds = export(study, finished_at=now, watermark_last_id=theirs[0])
    before_them = export(study, finished_at=now, watermark_last_id=theirs[0] - 1)
    elsewhere = export(setup["other"], finished_at=now, watermark_last_id=10**9)
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    note = ANNOTATOR_NOTE.format(today())
    assert marks(holds, before_them, elsewhere) == [(True, note), UNMARKED, UNMARKED]
    assert spammer.user.username not in note


def test_an_already_marked_export_keeps_its_first_note(study, researcher, setup):
    done = export(study, finished_at=timezone.now(), watermark_last_id=10**9)
    services.participant_withdraw(participant=setup["participant"], by=researcher)
    first = marks(done)
    services.annotator_labels_withdraw(membership=setup["members"][1], by=researcher, note="spam")
    assert marks(done) == first == [(True, PARTICIPANT_NOTE.format(today()))]


def test_a_rolled_back_withdrawal_marks_nothing(study, researcher, setup):
    done = export(study, finished_at=timezone.now(), watermark_last_id=10**9)

    def withdraw_then_fail():
        with transaction.atomic():
            services.annotator_labels_withdraw(membership=setup["members"][0], by=researcher, note="spam")
            assert marks(done)[0][0]  # marked in the withdrawal's transaction ...
            raise RuntimeError("the request failed after the withdrawal")

    with pytest.raises(RuntimeError):
        withdraw_then_fail()
    assert marks(done) == [UNMARKED]  # ... and rolled back with it
    assert Membership.objects.get(pk=setup["members"][0].pk).labels_withdrawn_at is None


# ---- reinstatement: reversible until an export is built --------------------------------------------------


def state(membership):
    membership.refresh_from_db()
    clips = Clip.objects.filter(study_id=membership.study_id).order_by("pk")
    return (
        membership.labels_withdrawn_at,
        AnnotatorEvent.objects.count(),
        list(clips.values_list("target_k", "extra_k")),
    )


def test_reinstating_works_before_an_export_and_is_refused_after_one(study, researcher, setup):
    spammer = setup["members"][0]
    export(study, finished_at=timezone.now() - HOUR, watermark_last_id=10**9)  # built before the withdrawal
    export(study, Export.Status.FAILED, finished_at=timezone.now() + HOUR)  # a failed build built nothing
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None

    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam after all")
    built = export(study, finished_at=timezone.now() + timedelta(seconds=1))
    before = state(spammer)
    with pytest.raises(Conflict) as refused:
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    assert refused.value.message == (
        f"Export v{built.version} of this study was built on {built.finished_at:%Y-%m-%d} after the "
        "withdrawal, without these labels: the withdrawal can no longer be undone."
    )
    assert state(spammer) == before  # nothing changed


def test_an_export_being_built_after_the_withdrawal_refuses_it_too(study, researcher, setup):
    spammer = setup["members"][0]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    export(study, Export.Status.PENDING)
    with pytest.raises(Conflict, match="is being built after the withdrawal"):
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")


def test_the_refusal_reaches_the_admin_and_the_api(client, study, researcher, setup):
    spammer = setup["members"][0]
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    export(study, finished_at=timezone.now() + timedelta(seconds=1))
    api = APIClient()
    api.force_authenticate(researcher)
    response = api.post(
        f"/api/studies/{study.pk}/members/{spammer.pk}/labels/reinstate/", {"note": "mistake"}, format="json"
    )
    assert response.status_code == 409 and "can no longer be undone" in response.json()["detail"]

    boss = type(researcher).objects.create(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    page = client.post(
        reverse("admin:labeling_membership_changelist"),
        {"action": "reinstate_labels", "_selected_action": [spammer.pk], "confirm": "1", "note": "mistake"},
        follow=True,
    ).content.decode()
    assert "can no longer be undone" in page
    assert Membership.objects.get(pk=spammer.pk).labels_withdrawn_at is not None


# ---- end to end: build, withdraw a participant and an annotator, build again ---------------------------------


def read_table(folder: Path, name: str) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((folder / "data" / name).glob("*.parquet")))


@pytest.fixture
def filmed(study, researcher, media_root):
    """Six clips with media files: two of P-gone and two of P-kept (both consented to sharing their videos),
    one of P-private (did not), one of nobody; four annotators rate round-robin up to K=3, with values that
    differ by clip and annotator."""
    people = {
        code: Participant.objects.create(study=study, code=code, consent_media_sharing=code != "P-private")
        for code in ("P-gone", "P-kept", "P-private")
    }
    owners = [people["P-gone"]] * 2 + [people["P-kept"]] * 2 + [people["P-private"], None]
    clips = [ClipFactory(study=study, participant=p) for p in owners]
    for clip in clips:
        path = Path(settings.MEDIA_ROOT) / clip.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"video {clip.pk}".encode())
    members = [MembershipFactory(study=study) for _ in range(4)]
    busy, turn = set(members), 0
    while busy:
        for j, member in enumerate(members):
            if member not in busy:
                continue
            assignment = services.assignment_claim_next(membership=member)
            if assignment is None:
                busy.discard(member)
                continue
            turn += 1
            cannot = turn % 7 == 0
            values = {"valence": 1 + (3 * turn + j) % 9, "arousal": 1 + (5 * turn + 2 * j) % 9}
            data = rating_data(
                cannot_judge=cannot,
                cannot_judge_reason="too dark" if cannot else "",
                **({} if cannot else values),
            )
            if cannot:
                data.update(valence=None, arousal=None, valence_confidence=None, arousal_confidence=None)
            services.annotation_submit(assignment=assignment, data=data)
    return {"people": people, "clips": clips, "members": members}


def build(study, **parameters) -> Export:
    export = export_services.export_start(study=study, parameters=parameters, enqueue=False)
    built = export_services.export_build(export_id=export.pk)
    assert built is not None and built.status == Export.Status.DONE, built and built.error
    return built


def folder_of(export: Export) -> Path:
    return Path(settings.EXPORTS_ROOT) / export.folder


def salted_id(export: Export, kind: str, pk: int) -> str:
    return salted(
        export_salt(study_id=export.study_id, parameters=export.parameters, salt=export.salt), kind, pk
    )


def test_a_rebuild_after_withdrawals_leaves_them_out_everywhere_and_the_old_export_refuses_downloads(
    study, researcher, filmed
):
    gone = filmed["people"]["P-gone"]
    gone_clips = {c.pk for c in filmed["clips"] if c.participant_id == gone.pk}
    # The spammer: whoever rated most of the clips that stay (so the rebuild has aggregates to recompute).
    staying = Annotation.objects.filter(study=study).exclude(clip_id__in=gone_clips)
    counts = {m.user_id: staying.filter(annotator_id=m.user_id).count() for m in filmed["members"]}
    spammer = next(m for m in filmed["members"] if m.user_id == max(counts, key=counts.get))
    params = {"include_media": True, "formats": ["parquet"]}
    old = build(study, **params)
    old_folder = folder_of(old)

    # The first export holds them: the participant's clips (with media) and the spammer's ratings.
    old_ratings = read_table(old_folder, "ratings")
    spammers_ids = set(Annotation.objects.filter(annotator_id=spammer.user_id).values_list("id", flat=True))
    assert spammers_ids <= set(old_ratings.column("rating_id").to_pylist())
    assert gone_clips <= set(read_table(old_folder, "clips").column("clip_id").to_pylist())
    assert {f"media/{pk}.mp4" for pk in gone_clips} <= {
        p.relative_to(old_folder).as_posix() for p in old_folder.glob("media/*")
    }

    services.participant_withdraw(participant=gone, by=researcher, note="asked by e-mail")
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="straight-lined")

    # The old export is marked (the first withdrawal's note) and refuses every download with a 410.
    old.refresh_from_db()
    assert old.withdrawn_data_at is not None
    assert old.withdrawn_note == PARTICIPANT_NOTE.format(today())
    api = APIClient()
    api.force_authenticate(researcher)
    for url in (
        f"/api/exports/{old.pk}/files/manifest.json",
        f"/api/exports/{old.pk}/files/data/ratings/train.parquet",
        f"/api/exports/{old.pk}/download.zip",
    ):
        response = api.get(url)
        assert response.status_code == 410, url
        assert "can no longer be downloaded" in response.json()["detail"]
        assert response.json()["withdrawn_note"] == old.withdrawn_note
    new = build(study, **params)
    with pytest.raises(Conflict):  # and the annotator's withdrawal can no longer be undone
        services.annotator_labels_reinstate(membership=spammer, by=researcher, note="mistake")
    new.refresh_from_db()
    assert new.withdrawn_data_at is None
    assert api.get(f"/api/exports/{new.pk}/files/manifest.json").status_code == 200
    folder = folder_of(new)
    ratings, clip_labels = read_table(folder, "ratings"), read_table(folder, "clip_labels")
    clips, annotators = read_table(folder, "clips"), read_table(folder, "annotators")

    # Absent everywhere: ratings, clip_labels (rows and their lists of ratings), clips, media, annotators.
    remaining = (
        Annotation.objects.filter(study=study)
        .exclude(clip_id__in=gone_clips)
        .exclude(annotator_id=spammer.user_id)
    )
    assert set(ratings.column("rating_id").to_pylist()) == set(remaining.values_list("id", flat=True))
    listed = {r["rating_id"] for rows in clip_labels.column("ratings").to_pylist() for r in rows}
    assert listed == set(remaining.values_list("id", flat=True))
    for table in (ratings, clip_labels, clips):
        assert not gone_clips & set(table.column("clip_id").to_pylist())
    assert salted_id(new, "participant", gone.pk) not in clips.column("participant_id").to_pylist()
    spammer_salted = salted_id(new, "annotator", spammer.user_id)
    assert spammer_salted not in annotators.column("annotator_id").to_pylist()
    assert spammer_salted not in ratings.column("annotator_id").to_pylist()
    media = {p.relative_to(folder).as_posix() for p in folder.glob("media/*")}
    kept = {c.pk for c in filmed["clips"] if c.participant_id == filmed["people"]["P-kept"].pk}
    assert media == {f"media/{pk}.mp4" for pk in kept}  # consented, not withdrawn; never P-private's
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["withdrawals"]["participants_withdrawn"] == 1
    assert manifest["withdrawals"]["annotators_withdrawn"] == 1
    assert "P-gone" not in (folder / "manifest.json").read_text()

    # Aggregates recomputed over the remaining ratings, by hand from the database.
    by_clip = {row["clip_id"]: row for row in clip_labels.to_pylist()}
    assert set(by_clip) == set(remaining.values_list("clip_id", flat=True))
    for clip_id, row in by_clip.items():
        theirs = list(remaining.filter(clip_id=clip_id).values_list("valence", "arousal", "annotator_id"))
        judged = np.array([(v, a) for v, a, _ in theirs if v is not None], dtype=float).reshape(-1, 2)
        assert row["n_ratings"] == len(theirs)
        assert row["n_annotators"] == len({who for *_, who in theirs})
        assert row["n_cannot_judge"] == len(theirs) - len(judged)
        for i, dim in enumerate(("valence", "arousal")):
            if len(judged):
                assert row[f"{dim}_mean"] == pytest.approx(judged[:, i].mean(), abs=1e-12)
            if len(judged) >= 2:
                assert row[f"{dim}_sd"] == pytest.approx(judged[:, i].std(ddof=1), abs=1e-12)
    changed = [
        pk for pk in by_clip if Annotation.objects.filter(clip_id=pk, annotator_id=spammer.user_id).exists()
    ]
    assert changed  # the spammer's clips are there, recomputed without their ratings
    old_labels = {row["clip_id"]: row for row in read_table(old_folder, "clip_labels").to_pylist()}
    assert all(by_clip[pk]["n_ratings"] == old_labels[pk]["n_ratings"] - 1 for pk in changed)


def test_an_export_requested_before_a_withdrawal_and_built_after_it_leaves_the_data_out(
    study, researcher, filmed
):
    """Its watermark predates the withdrawal, but the build reads the labels that count when it runs."""
    gone = filmed["people"]["P-gone"]
    spammer = filmed["members"][0]
    pending = export_services.export_start(study=study, parameters={}, enqueue=False)
    assert Annotation.objects.filter(annotator_id=spammer.user_id, id__lte=pending.watermark_last_id).exists()
    services.participant_withdraw(participant=gone, by=researcher)
    services.annotator_labels_withdraw(membership=spammer, by=researcher, note="spam")
    built = export_services.export_build(export_id=pending.pk)
    assert built.status == Export.Status.DONE and built.withdrawn_data_at is None  # nothing of theirs in it
    ratings = read_table(folder_of(built), "ratings")
    counted = selectors.annotations_for_analysis(study=study).filter(id__lte=pending.watermark_last_id)
    assert set(ratings.column("rating_id").to_pylist()) == set(counted.values_list("id", flat=True))
    assert not set(ratings.column("clip_id").to_pylist()) & {
        c.pk for c in filmed["clips"] if c.participant_id == gone.pk
    }


def test_a_withdrawal_committed_while_a_build_read_marks_it_when_it_finishes(study, researcher, setup):
    """The race the receiver cannot see (a withdrawal committing just as a build is claimed): the build's end
    applies the withdrawals made since it began. Here the withdrawal's log row stands for one whose marking
    statement ran before the build was claimed."""
    now = timezone.now()
    built = export(study, finished_at=now, started_at=now - HOUR, watermark_last_id=10**9)
    earlier = export(study, finished_at=now, started_at=now - HOUR, watermark_last_id=10**9)
    ParticipantEvent.objects.create(
        participant=setup["participant"], action="withdrawn", at=now - HOUR / 2, by=researcher
    )
    ParticipantEvent.objects.create(participant=setup["participant"], action="withdrawn", at=now - 2 * HOUR)
    assert exports_mark_withdrawn_during_build(export_id=built.pk) == 1
    assert marks(built, earlier) == [
        (True, PARTICIPANT_NOTE.format(f"{timezone.localtime(now - HOUR / 2):%Y-%m-%d}")),
        UNMARKED,
    ]
    assert exports_mark_withdrawn_during_build(export_id=built.pk) == 0  # once
