"""The clip admin: a save writes only the edited fields; bulk upload reports each file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling import services
from labeling.demo import render_demo_clip
from labeling.models import Clip
from tests.factories import MembershipFactory, StudyFactory
from tests.labeling.admin.helpers import populate

pytestmark = pytest.mark.django_db


def test_clip_save_writes_only_edited_fields(admin_client_):
    study = populate(n_clips=1, n_annotators=0)
    clip = study.clips.get()
    url = reverse("admin:labeling_clip_change", args=[clip.pk])
    assert admin_client_.get(url).status_code == 200
    # meanwhile an annotator claims the clip: the counter moves under the open form
    services.assignment_claim_next(membership=MembershipFactory(study=study))
    response = admin_client_.post(url, {"participant": clip.participant_id or "", "is_active": ""})
    assert response.status_code == 302
    clip.refresh_from_db()
    assert clip.is_active is False and clip.n_assigned == 1


def test_bulk_upload_reports_each_file(admin_client_, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = StudyFactory()
    video = render_demo_clip(tmp_path / "v.mp4", seconds=1.0, fps=10, size=(160, 120)).read_bytes()
    response = admin_client_.post(
        reverse("admin:labeling_clip_upload"),
        {
            "study": study.pk,
            "files": [
                SimpleUploadedFile("real.mp4", video, content_type="video/mp4"),
                SimpleUploadedFile("fake.mp4", b"this is a text file\n" * 50, content_type="video/mp4"),
            ],
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 imported, 1 refused" in html
    results = {r.name: r for r in response.context["results"]}
    assert results["real.mp4"].ok and not results["fake.mp4"].ok
    assert "not a video" in results["fake.mp4"].error.lower() and results["fake.mp4"].error in html
    clip = Clip.objects.get(study=study)
    assert (clip.original_name, clip.width, clip.height, clip.target_k) == (
        "real.mp4",
        160,
        120,
        study.overlap_k,
    )
    assert reverse("admin:labeling_clip_change", args=[clip.pk]) in html
