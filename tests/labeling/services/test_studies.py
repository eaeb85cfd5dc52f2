"""Studies and their members: scheme versions, K, settings validation, removing a member;
membership_add_by_username: adding an existing user to a study by name, with the project's errors."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError

from labeling import services
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Annotation, Assignment, Clip, Membership, Role, Study
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.factories import rating_data as rating

pytestmark = pytest.mark.django_db


def test_adds_a_new_member_once(study):
    newcomer = UserFactory()
    membership, created = services.membership_add_by_username(
        study=study, username=newcomer.username, role=Role.ANNOTATOR
    )
    assert created and (membership.user, membership.role, membership.joined_via) == (
        newcomer,
        "annotator",
        "account",
    )
    again, created = services.membership_add_by_username(
        study=study, username=newcomer.username, role="annotator"
    )
    assert again == membership and not created
    assert Membership.objects.filter(study=study, user=newcomer).count() == 1


def test_refuses_another_role_an_unknown_name_and_a_crowd_account_of_another_study(study):
    member = MembershipFactory(study=study)
    crowd = UserFactory(is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid="5f1a2b3c4d")
    before = set(Membership.objects.values_list("pk", "role"))
    with pytest.raises(Conflict, match="already a member of this study as annotator"):
        services.membership_add_by_username(study=study, username=member.user.username, role=Role.RESEARCHER)
    with pytest.raises(ValidationFailed) as unknown:
        services.membership_add_by_username(study=study, username="nobody-here", role=Role.ANNOTATOR)
    assert unknown.value.errors == {"username": "no user named 'nobody-here'"}
    for role in (Role.ANNOTATOR, Role.RESEARCHER):
        with pytest.raises(ValidationFailed) as refused:
            services.membership_add_by_username(study=study, username=crowd.username, role=role)
        assert "crowd participant" in refused.value.errors["username"]
    assert set(Membership.objects.values_list("pk", "role")) == before


def test_scheme_in_use_is_frozen(study, clips, make_annotator):
    v1 = study.schemes.get()
    same = services.study_scheme_update(study=study, spec={"instrument": "slider"})
    assert same.pk == v1.pk  # unused: edited in place
    a = services.assignment_claim_next(membership=make_annotator(study))
    v2 = services.study_scheme_update(study=study, spec={"instrument": "sam", "points": 7})
    assert v2.version == 2
    ann, _ = services.annotation_submit(assignment=a, data=rating(valence=0.5, arousal=-0.25))
    assert ann.scheme_version_id == v1.pk and ann.valence == 0.5  # made with the slider it was shown


def test_changing_k_retargets_clips_but_never_below_live_work(study, make_annotator):
    full, empty = ClipFactory(study=study, target_k=1), ClipFactory(study=study, target_k=1)
    study.overlap_k = 1
    study.save()
    services.assignment_claim_next(membership=make_annotator(study))
    services.assignment_claim_next(membership=make_annotator(study))
    services.study_update(study=study, fields={"overlap_k": 3})
    assert set(Clip.objects.values_list("target_k", flat=True)) == {3}
    services.study_update(study=study, fields={"overlap_k": 1})
    full.refresh_from_db(), empty.refresh_from_db()
    assert (full.target_k, empty.target_k) == (1, 1)  # each holds one live lease: K=1 is still >= n_assigned


def test_study_update_refuses_bad_values_and_changes_nothing(study):
    with pytest.raises(DjangoValidationError, match="overlap_k"):
        services.study_update(study=study, fields={"overlap_k": 0})
    study.refresh_from_db()
    assert study.overlap_k == 3


def test_policy_settings_are_validated(db):
    from django.core.exceptions import ValidationError

    study = StudyFactory(overlap_k=3)
    with pytest.raises(ValidationError) as exc:
        services.study_update(
            study=study, fields={"extra_annotator_sd_threshold": -0.1, "extra_annotator_cap_k": 2}
        )
    assert set(exc.value.message_dict) == {"extra_annotator_sd_threshold", "extra_annotator_cap_k"}


# ---------- issue 6: members removed ----------


def test_removed_member_loses_their_leases_and_the_clip_slot_returns(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    assert Clip.objects.get(pk=clip.pk).n_assigned == 1
    services.membership_remove(membership=m)
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0
    assert not Membership.objects.filter(pk=m.pk).exists()
    assert services.assignment_claim_next(membership=make_annotator(study)).clip_id == clip.pk


def test_removed_member_cannot_submit_or_keep_a_lease(study, make_annotator):
    from labeling import selectors
    from labeling.errors import NotFound

    ClipFactory(study=study, target_k=2)
    m = make_annotator(study)
    a = services.assignment_claim_next(membership=m)
    services.membership_remove(membership=m)
    with pytest.raises(NotFound):  # what the submit and heartbeat endpoints load the assignment with
        selectors.assignment_for_annotator(user=m.user, assignment_id=a.pk)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "group",
    [
        {"name": "setting", "tags": ["home", "street\ud800"]},
        {"name": "setting", "label": "Set\ud800ting", "tags": ["home"]},
        {"name": "set\x00ting", "tags": ["home"]},
        {"name": "setting", "label": 5, "tags": ["home"]},
    ],
    ids=["surrogate-tag", "surrogate-label", "nul-name", "label-not-text"],
)
def test_lone_surrogate_in_scheme_tag_vocabulary_is_refused_and_the_study_still_reads(study, group):
    spec = {"context_groups": [group]}
    with pytest.raises(ValidationFailed) as info:
        services.study_update(study=study, fields={}, scheme=spec)
    assert "context_groups" in info.value.errors
    with pytest.raises(ValidationFailed):
        services.study_create(title="New", slug="new", scheme=spec, created_by=None)
    assert not Study.objects.filter(slug="new").exists()
    assert [s.version for s in study.schemes.all()] == [1]
    str(study.schemes.get().spec)  # the stored scheme still reads
