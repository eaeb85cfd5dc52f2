"""Management commands: import_clips, demo (idempotent), simulate_annotators."""

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling import services
from labeling.demo import DEMO_CLIP_PARAMS, render_demo_clip
from labeling.demo.simulate import clip_stimulus
from labeling.models import Annotation, Assignment, Clip, Membership, Participant, SelfReport, Study
from tests.factories import ClipFactory, StudyFactory

User = get_user_model()


def run(*args) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def media_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def clip_dir(tmp_path) -> Path:
    d = tmp_path / "incoming"
    render_demo_clip(d / "good.mp4", seconds=1.0, seed=3)
    (d / "bad.mp4").write_text("not a video at all\n" * 20)
    (d / "README.txt").write_text("notes")
    return d


def rspearman(x, y) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


# ---- import_clips ------------------------------------------------------------------------------------------


def test_import_clips_one_good_one_bad(study, media_root, clip_dir, tmp_path):
    csv_path = tmp_path / "participants.csv"
    csv_path.write_text("filename,participant\ngood.mp4,P01\nbad.mp4,P02\nmissing.mp4,P03\n")
    out, err, exc = run("import_clips", study.slug, str(clip_dir), "--participants", str(csv_path))
    assert exc is not None and "1 of 2 files were refused" in str(exc)  # non-zero exit
    lines = out.splitlines()
    assert any(
        line.startswith("imported  good.mp4 -> clip ") and "participant P01" in line for line in lines
    ), out
    assert "refused   bad.mp4: This file is not a video: it looks like a text file." in lines, out
    assert "skipped   README.txt: not a video file name" in lines
    assert "2 video files: 1 imported, 1 refused." in lines
    assert "missing.mp4" in err
    clip = Clip.objects.get(study=study)
    assert clip.original_name == "good.mp4" and clip.participant.code == "P01"
    assert len(media_files(media_root)) == 2  # the clip and its poster; nothing from the refused file

    (clip_dir / "bad.mp4").unlink()
    out, _, exc = run("import_clips", str(study.pk), str(clip_dir), "--skip-duplicates")
    assert exc is None and f"present   good.mp4: already clip {clip.pk}" in out
    out, _, exc = run("import_clips", study.slug, str(clip_dir))
    assert exc is not None and f"refused   good.mp4: This file is a duplicate of clip {clip.pk}" in out
    # Issue 6, finding 11: the refused bad.mp4 left no participant P02 behind.
    assert Clip.objects.count() == 1 and list(
        Participant.objects.filter(study=study).values_list("code", flat=True)
    ) == ["P01"]


def test_import_clips_bad_arguments(study, media_root, clip_dir, tmp_path):
    assert "No study" in str(run("import_clips", "no-such-study", str(clip_dir))[2])
    assert "not a directory" in str(run("import_clips", study.slug, str(tmp_path / "nope"))[2])
    bad_csv = tmp_path / "p.csv"
    bad_csv.write_text("name;code\ngood.mp4;P1\n")
    assert "header row" in str(
        run("import_clips", study.slug, str(clip_dir), "--participants", str(bad_csv))[2]
    )
    assert not Clip.objects.exists() and media_files(media_root) == []


# ---- demo --------------------------------------------------------------------------------------------------


def snapshot(root: Path) -> dict:
    return {
        "users": sorted(User.objects.values_list("username", "password", "is_superuser")),
        "studies": Study.objects.count(),
        "clips": sorted(Clip.objects.values_list("original_name", "sha256", "n_assigned", "n_submitted")),
        "memberships": Membership.objects.count(),
        "assignments": Assignment.objects.count(),
        "annotations": Annotation.objects.count(),
        "self_reports": sorted(SelfReport.objects.values_list("external_id", "valence", "arousal")),
        "files": media_files(root),
    }


def test_demo_clip_is_the_same_file_for_the_same_arguments(tmp_path):
    """The demo finds its clips again by their sha256, and the tests' render_once fixture copies a clip made once."""
    same = dict(seconds=0.4, fps=10, size=(64, 48), tempo=2.0, hue=0.3, seed=5)
    first = render_demo_clip(tmp_path / "a.mp4", **same).read_bytes()
    assert render_demo_clip(tmp_path / "b.mp4", **same).read_bytes() == first
    assert render_demo_clip(tmp_path / "c.mp4", **{**same, "seed": 6}).read_bytes() != first


def test_demo_is_complete_and_idempotent(db, media_root, client, render_once):
    out, _, exc = run("demo")
    assert exc is None, exc
    study = Study.objects.get(slug="demo")
    assert study.overlap_k == 3 and study.completion_code == "DEMO-COMPLETE"
    assert study.schemes.get().spec["instrument"] == "sam" and study.schemes.get().spec["points"] == 9
    assert study.clips.count() == 12
    # Six filmed participants, two clips each; some of them (never all) consented to sharing their videos.
    assert sorted(study.participants.values_list("code", flat=True)) == [f"D-0{i}" for i in range(1, 7)]
    assert {c.participant.code for c in study.clips.filter(original_name="demo-04.mp4")} == {"D-02"}
    sharing = set(study.participants.filter(consent_media_sharing=True).values_list("code", flat=True))
    assert sharing == {"D-01", "D-03", "D-04"}
    assert User.objects.get(username="researcher").is_superuser
    assert Membership.objects.get(study=study, user__username="researcher").role == "researcher"
    for name in ("annotator1", "annotator2", "annotator3"):
        member = Membership.objects.get(study=study, user__username=name)
        assert member.role == "annotator" and member.consented_at is not None
    assert client.login(username="annotator1", password="demo-annotator")
    assert client.login(username="researcher", password="demo-researcher")
    for line in (
        "researcher / demo-researcher",
        "annotator1 / demo-annotator",
        "annotator3 / demo-annotator",
        "/crowd/demo/?key=demo&PROLIFIC_PID=",
    ):
        assert line in out

    ratings = Annotation.objects.filter(study=study)
    assert ratings.count() == 20 and ratings.values("annotator").distinct().count() == 5
    rated = ratings.filter(cannot_judge=False)
    assert len(set(rated.values_list("valence_raw", flat=True))) >= 4  # ratings differ
    assert sum(bool(tags) for tags in rated.values_list("context_tags", flat=True)) >= rated.count() // 2
    assert all(v is None for v in ratings.filter(cannot_judge=True).values_list("valence", flat=True))

    # The stimulus behind the simulated ratings follows the clip parameters.
    clips = sorted(study.clips.all(), key=lambda c: c.original_name)
    stimuli = [clip_stimulus(c) for c in clips]
    assert rspearman([p["tempo"] for p in DEMO_CLIP_PARAMS], [s.arousal for s in stimuli]) > 0.6
    assert rspearman([p["brightness"] for p in DEMO_CLIP_PARAMS], [s.valence for s in stimuli]) > 0.3

    # Some filmed participants' own self-reports, as if imported, correlated with what the observers see
    # (the same stimulus) but not equal to it; two of the four consented to their export.
    own = SelfReport.objects.filter(study=study)
    assert set(own.values_list("participant__code", flat=True)) == {"D-01", "D-02", "D-03", "D-04"}
    assert set(own.values_list("source", flat=True)) == {"imported"}
    assert own.filter(start_s__isnull=False).exists() and own.filter(start_s__isnull=True).exists()
    assert set(own.values_list("instrument", flat=True)) == {"sam", "slider"}
    exporting = study.participants.filter(consent_self_reports_export=True).values_list("code", flat=True)
    assert set(exporting) == {"D-01", "D-03"}
    whole = own.filter(start_s__isnull=True).select_related("clip")
    truth = {c.pk: clip_stimulus(c).valence for c in clips}
    assert rspearman([truth[r.clip_id] for r in whole], [r.valence for r in whole]) > 0.3
    assert "Generated" in out and "self-reports" in out
    report = services.agreement_run_now(study=study, n_resamples=50)
    section = report.result["perceived_vs_experienced"]
    assert section["n_clips"] == 7 and section["dimensions"]["valence"]["n_clips"] >= 3
    # annotators never see them: the demo annotator's pages and API say nothing of self-reports
    assert client.login(username="annotator1", password="demo-annotator")
    for url in ("/", f"/s/{study.pk}/", "/api/me/"):
        body = client.get(url).content.decode().lower()
        assert "self-report" not in body and "self_report" not in body and "D-01" not in body.upper()

    before = snapshot(media_root)
    out, _, exc = run("demo")
    assert exc is None and "nothing changed" in out
    assert snapshot(media_root) == before

    # Work is left for the demo annotators: clips with fewer than K ratings, which annotator1 can claim.
    assert study.clips.filter(n_submitted__lt=study.overlap_k).count() >= 6
    annotator1 = Membership.objects.get(study=study, user__username="annotator1")
    assert services.assignment_claim_next(membership=annotator1) is not None


# ---- simulate_annotators -----------------------------------------------------------------------------------


def test_simulate_annotators(db, media_root):
    study = StudyFactory(slug="sim-study", overlap_k=3)
    ClipFactory.create_batch(4, study=study)  # metadata only: the stimulus comes from the clip's hash
    out, _, exc = run("simulate_annotators", "sim-study", "--annotators", "2", "--seed", "1")
    assert exc is None, exc
    assert "2 simulated annotators" in out and "added 8 ratings" in out
    usernames = sorted(
        User.objects.filter(username__startswith=f"sim-{study.pk}-").values_list("username", flat=True)
    )
    assert usernames == [f"sim-{study.pk}-001", f"sim-{study.pk}-002"]
    assert not User.objects.get(username=usernames[0]).has_usable_password()
    out, _, exc = run("simulate_annotators", str(study.pk), "--annotators", "3", "--max-per-annotator", "1")
    assert exc is None and "added 3 ratings" in out
    run("simulate_annotators", "sim-study", "--annotators", "2")
    assert Annotation.objects.filter(study=study).count() == 12  # 4 clips x K=3, and not one more
    for clip in Clip.objects.filter(study=study):
        assert clip.n_submitted == 3 and clip.annotations.values("annotator").distinct().count() == 3
    for a in Annotation.objects.filter(study=study, cannot_judge=False):
        assert 1 <= a.valence_raw <= 9 and -1 <= a.valence <= 1 and 1 <= a.valence_confidence <= 5
    assert "at least 1" in str(run("simulate_annotators", "sim-study", "--annotators", "0")[2])
    assert "No study" in str(run("simulate_annotators", "nope", "--annotators", "1")[2])


def test_demo_command_refuses_to_run_in_production(db, settings, media_root):
    """`manage.py demo` would create a superuser with a published password and crowd key 'demo'."""
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="DJANGO_ENV=production"):
        call_command("demo", "--no-simulate", stdout=StringIO())
    assert not get_user_model().objects.exists()
    assert not Study.objects.exists() and not Clip.objects.exists()
    assert media_files(media_root) == []
    from labeling.demo import demo_setup

    with pytest.raises(RuntimeError, match="DJANGO_ENV=production"):  # the function refuses on its own too
        demo_setup(simulate=False)
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_background_status_command_fails_when_beat_is_stale():
    """Beat's container healthcheck (issue 6, item 16): exit non-zero unless beat's heartbeat is fresh."""
    from datetime import timedelta

    from django.utils import timezone

    with pytest.raises(CommandError, match=r"not running: beat \(never\)"):
        call_command("background_status", "--require", "beat", stdout=StringIO())
    services.heartbeat_record(kind="beat", name="b", now=timezone.now() - timedelta(minutes=10))
    with pytest.raises(CommandError, match=r"beat \(stale\)"):
        call_command("background_status", "--require", "beat", stdout=StringIO())
    services.heartbeat_record(kind="beat", name="b")
    out = StringIO()
    call_command("background_status", "--require", "beat", stdout=out)
    assert '"beat": "ok"' in out.getvalue() and '"worker": "never"' in out.getvalue()
