"""The annotation admin is read-only."""

import pytest
from django.urls import reverse

from labeling.models import Annotation
from tests.labeling.admin.helpers import populate

pytestmark = pytest.mark.django_db


def test_annotation_admin_is_read_only(admin_client_):
    study = populate(n_clips=1, n_annotators=1)
    annotation = Annotation.objects.get(study=study)
    before = Annotation.objects.values().get(pk=annotation.pk)
    change = reverse("admin:labeling_annotation_change", args=[annotation.pk])
    page = admin_client_.get(change)
    assert page.status_code == 200 and 'name="valence"' not in page.content.decode()
    assert (
        admin_client_.post(change, {"valence": "-1", "arousal": "-1", "cannot_judge": "on"}).status_code
        == 403
    )
    assert (
        admin_client_.post(
            reverse("admin:labeling_annotation_delete", args=[annotation.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert admin_client_.get(reverse("admin:labeling_annotation_add")).status_code == 403
    bulk = admin_client_.post(
        reverse("admin:labeling_annotation_changelist"),
        {"action": "delete_selected", "_selected_action": [annotation.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Annotation.objects.values().get(pk=annotation.pk) == before
