"""clip_create with real files (made with PyAV): what is stored for a good clip, participants, duplicates.
What the probe accepts and refuses is in tests/labeling/media/test_probe.py."""

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from labeling import services
from labeling.errors import ValidationFailed
from labeling.models import Clip, Participant
from tests.factories import StudyFactory, UserFactory
from tests.labeling.upload_helpers import assert_refused, create, files_under


def test_good_clip_is_accepted_with_metadata_and_poster(study, media_root, good_mp4):
    user = UserFactory()
    clip = create(study, good_mp4, "folder/My clip.MP4", uploaded_by=user)
    clip.refresh_from_db()
    assert clip.original_name == "My clip.MP4"
    assert clip.sha256 == hashlib.sha256(good_mp4.read_bytes()).hexdigest()
    assert clip.size_bytes == good_mp4.stat().st_size
    assert clip.container == "mov,mp4,m4a,3gp,3g2,mj2" and clip.video_codec == "h264"
    assert clip.duration_s == pytest.approx(3.0, abs=0.05)
    assert clip.fps == pytest.approx(25.0)
    assert (clip.width, clip.height, clip.has_audio) == (320, 240, False)
    assert clip.target_k == study.overlap_k and clip.uploaded_by == user
    stored = Path(clip.file.path)
    assert stored.suffix == ".mp4" and stored.read_bytes() == good_mp4.read_bytes()
    assert good_mp4.name not in clip.file.name  # generated storage name
    with Image.open(clip.poster.path) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 240)
    assert files_under(media_root) == sorted([stored, Path(clip.poster.path)])  # nothing left in tmp/


def test_django_upload_object_and_participant(study, media_root, good_mp4):
    participant = services.participant_get_or_create(study=study, code=" P-007 ")
    assert services.participant_get_or_create(study=study, code="P-007") == participant
    upload = SimpleUploadedFile("up.mp4", good_mp4.read_bytes(), content_type="video/mp4")
    clip = services.clip_create(study=study, file=upload, original_name=upload.name, participant=participant)
    assert clip.participant == participant and clip.duration_s == pytest.approx(3.0, abs=0.05)


def test_participant_of_another_study_is_refused(study, media_root, good_mp4):
    stranger = Participant.objects.create(study=StudyFactory(), code="X")
    with pytest.raises(ValidationFailed, match="another study"):
        create(study, good_mp4, participant=stranger)
    assert not Clip.objects.exists() and files_under(media_root) == []


def test_duplicate_is_refused_naming_the_first(study, media_root, good_mp4):
    first = create(study, good_mp4, "first.mp4")
    error = assert_refused(study, media_root, good_mp4, f"duplicate of clip {first.pk}", "first.mp4")
    assert error.duplicate_of == first
    assert Clip.objects.count() == 1
    create(StudyFactory(), good_mp4)  # the same file is welcome in another study
