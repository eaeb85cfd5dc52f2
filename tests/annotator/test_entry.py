"""Ways in: log-in, crowd links (one pseudonymous account per study and PROLIFIC_PID) and invite links."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotator import services
from annotator.models import User
from labeling.errors import NotAllowed
from labeling.models import Assignment, Invite, Membership
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory

PID = "5f1a2b3c4d5e6f7a8b9c0d1e"


def crowd_url(study, **params):
    query = {
        "key": study.crowd_key,
        "PROLIFIC_PID": PID,
        "STUDY_ID": "st123",
        "SESSION_ID": "se456",
        **params,
    }
    query = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
    return f"{reverse('crowd-entry', args=[study.slug])}?{query}"


def session_user_id(client):
    return int(client.session["_auth_user_id"]) if "_auth_user_id" in client.session else None


# ---------- crowd links ----------


def test_crowd_link_creates_one_pseudonymous_annotator_and_logs_in(client, study):
    response = client.get(crowd_url(study))
    assert response.status_code == 302
    assert response["Location"] == reverse("study-consent", args=[study.pk])
    user = User.objects.get(crowd_pid=PID)
    assert user.is_pseudonymous and not user.has_usable_password() and user.email == ""
    assert PID not in user.username  # the platform id is not shown as the user name
    assert session_user_id(client) == user.pk
    membership = Membership.objects.get(study=study, user=user)
    assert membership.joined_via == "crowd" and membership.role == "annotator"
    assert (membership.crowd_study_id, membership.crowd_session_id) == ("st123", "se456")
    assert membership.consented_at is None


def test_same_pid_later_logs_back_into_the_same_account(client, study):
    client.get(crowd_url(study))
    first = User.objects.get(crowd_pid=PID)
    client.logout()
    response = client.get(crowd_url(study, SESSION_ID="se789"))
    assert response.status_code == 302
    assert User.objects.filter(crowd_pid=PID).count() == 1
    assert session_user_id(client) == first.pk
    assert Membership.objects.filter(user=first).count() == 1
    assert Membership.objects.get(user=first).crowd_session_id == "se789"  # the platform's new attempt


def test_same_pid_in_a_second_study_is_a_separate_account(client, study):
    """Was test_same_pid_in_a_second_study_reuses_the_account (one account per PID site-wide, issue 6 item 1)."""
    other = StudyFactory()
    client.get(crowd_url(study))
    first = User.objects.get(crowd_study=study, crowd_pid=PID)
    client.logout()
    client.get(crowd_url(other))
    second = User.objects.get(crowd_study=other, crowd_pid=PID)
    assert first.pk != second.pk
    assert list(Membership.objects.filter(user=first).values_list("study_id", flat=True)) == [study.pk]
    assert list(Membership.objects.filter(user=second).values_list("study_id", flat=True)) == [other.pk]


def test_crowd_pid_of_another_study_cannot_take_over_account(client, study):
    """Anyone with study B's crowd link and the PID of a participant of study A reaches only a fresh account
    of study B: never the A account, its memberships, leases or labels."""
    victim_study = StudyFactory()
    ClipFactory(study=victim_study)
    client.get(crowd_url(victim_study))
    victim = User.objects.get(crowd_study=victim_study, crowd_pid=PID)
    Membership.objects.filter(user=victim).update(consented_at=timezone.now())
    assert client.post(f"/api/studies/{victim_study.pk}/assignments/next/").status_code == 201
    attacker = Client()
    response = attacker.get(crowd_url(study))  # another study's link, the victim's PID
    assert response.status_code == 302
    assert session_user_id(attacker) != victim.pk
    assert attacker.get(reverse("study-queue", args=[victim_study.pk])).status_code == 404
    assert attacker.post(f"/api/studies/{victim_study.pk}/assignments/next/").status_code == 404
    assert Membership.objects.filter(user=victim).count() == 1


def test_crowd_account_is_unique_per_study_and_pid_in_the_database(study):
    UserFactory(username="crowd-a", is_pseudonymous=True, crowd_study=study, crowd_pid=PID)
    UserFactory(username="crowd-b", is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid=PID)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="crowd-c", is_pseudonymous=True, crowd_study=study, crowd_pid=PID)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="crowd-d", is_pseudonymous=True, crowd_pid="9d9d9d9d")  # no study


def test_different_pids_get_different_accounts(client, study):
    client.get(crowd_url(study))
    client.logout()
    client.get(crowd_url(study, PROLIFIC_PID="6a0b1c2d3e4f5a6b7c8d9e0f"))
    assert User.objects.filter(is_pseudonymous=True).count() == 2
    assert session_user_id(client) == User.objects.get(crowd_pid="6a0b1c2d3e4f5a6b7c8d9e0f").pk


def test_consented_crowd_worker_returning_goes_to_the_queue(client, study):
    client.get(crowd_url(study))
    Membership.objects.filter(study=study).update(consented_at=timezone.now())
    response = client.get(crowd_url(study))
    assert response["Location"] == reverse("study-queue", args=[study.pk])


def test_same_pid_same_study_while_logged_in_just_continues(client, study):
    client.get(crowd_url(study))
    user = User.objects.get(crowd_pid=PID)
    response = client.get(crowd_url(study, SESSION_ID="se999"))
    assert response.status_code == 302 and session_user_id(client) == user.pk
    assert User.objects.filter(crowd_pid=PID).count() == 1


def test_crowd_link_asks_before_replacing_another_crowd_participant(study):
    """A shared computer: the next participant's link (same study or another) asks before logging the
    previous crowd participant out. Was test_crowd_link_replaces_another_crowd_participant (silent switch)."""
    client = Client(enforce_csrf_checks=True)
    for before_study in (study, StudyFactory()):
        before = UserFactory(
            is_pseudonymous=True, crowd_study=before_study, crowd_pid="8c8c8c8c8c8c8c8c8c8c8c8c"
        )
        client.force_login(before)
        response = client.get(crowd_url(study))
        assert response.status_code == 409 and "Continue as the participant" in response.content.decode()
        assert session_user_id(client) == before.pk
        assert not User.objects.filter(crowd_study=study, crowd_pid=PID).exists()


@pytest.mark.parametrize("kind", ["researcher", "staff", "invited guest"])
def test_crowd_link_never_silently_logs_out_an_account(client, study, kind):
    """A researcher testing the link (or an invited guest, whose account has no password) is asked first:
    nothing is created and the session stays theirs until they choose to continue."""
    if kind == "researcher":
        current = MembershipFactory(study=study, role="researcher").user
    elif kind == "staff":
        current = UserFactory(is_staff=True)
    else:
        current = UserFactory(username="guest-abc123", is_pseudonymous=True)
    client.force_login(current)
    response = client.get(crowd_url(study))
    body = response.content.decode()
    assert response.status_code == 409 and response["Cache-Control"] == "no-store"
    assert f"You are logged in as {current.username}" in body
    assert 'method="post"' in body and "csrfmiddlewaretoken" in body
    assert f'action="{crowd_url(study).replace("&", "&amp;")}"' in body
    assert f"Keep {current.username}" in body
    assert session_user_id(client) == current.pk
    assert not User.objects.filter(crowd_pid=PID).exists()
    assert not Membership.objects.filter(study=study, joined_via="crowd").exists()
    assert ("no password" in body) == (kind == "invited guest")


def test_continuing_from_the_crowd_link_page_signs_in_as_the_participant(study, researcher):
    """Was test_logging_out_from_the_crowd_link_page_continues_into_the_study: the page's own POST (with its
    CSRF token) continues; a POST without the token changes nothing."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    link = crowd_url(study)
    page = client.get(link).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(link).status_code == 403  # no CSRF token: refused
    assert session_user_id(client) == researcher.pk
    response = client.post(link, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == reverse("study-consent", args=[study.pk])
    assert session_user_id(client) == User.objects.get(crowd_pid=PID).pk


# ---------- flooding ----------


@pytest.fixture
def mid_window(monkeypatch):
    """The sign-up limits count in fixed windows (annotator.services._window_count): hold the clock in the
    middle of one, so a test's requests never straddle a window boundary."""
    from types import SimpleNamespace

    import annotator.services

    monkeypatch.setattr(annotator.services, "time", SimpleNamespace(time=lambda: 1_800_000_000.0 + 30))


def test_crowd_signups_are_rate_limited_per_client_address(client, study, settings, mid_window):
    settings.CROWD_SIGNUPS_PER_CLIENT = 3
    for i in range(3):
        client.logout()
        assert client.get(crowd_url(study, PROLIFIC_PID=f"pid{i}aaaa")).status_code == 302
    client.logout()
    response = client.get(crowd_url(study, PROLIFIC_PID="pid9aaaa"))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "try again" in response.content.decode()
    assert not User.objects.filter(crowd_pid="pid9aaaa").exists()
    other_address = Client(REMOTE_ADDR="10.9.8.7")
    assert other_address.get(crowd_url(study, PROLIFIC_PID="pid9aaaa")).status_code == 302
    # Returning participants are never held back.
    assert client.get(crowd_url(study, PROLIFIC_PID="pid0aaaa")).status_code == 302


def test_crowd_entry_flood_cannot_block_the_queue(study, settings):
    """The probe: nine made-up ids from one client, each claiming and preloading, took every slot of a
    study. Now the client makes at most CROWD_SIGNUPS_PER_CLIENT accounts, each holds one short lease until
    it rates, and a real participant still gets a clip."""
    settings.CROWD_SIGNUPS_PER_CLIENT = 5
    ClipFactory.create_batch(3, study=study, target_k=3)  # nine slots
    statuses = []
    for i in range(9):
        flooder = Client(REMOTE_ADDR="10.66.66.66")
        response = flooder.get(crowd_url(study, PROLIFIC_PID=f"fake{i}xxxx"))
        statuses.append(response.status_code)
        if response.status_code != 302:
            continue
        Membership.objects.filter(study=study, user_id=session_user_id(flooder)).update(
            consented_at=timezone.now()
        )
        first = flooder.post(
            f"/api/studies/{study.pk}/assignments/next/", {}, content_type="application/json"
        )
        assert first.status_code == 201
        preload = flooder.post(
            f"/api/studies/{study.pk}/assignments/next/",
            {"exclude": [first.json()["id"]]},
            content_type="application/json",
        )
        assert preload.status_code == 409
    assert statuses == [302] * 5 + [429] * 4
    assert Assignment.objects.filter(study=study, status="active").count() == 5
    real = Client(REMOTE_ADDR="10.1.2.3")
    assert real.get(crowd_url(study, PROLIFIC_PID="realperson1")).status_code == 302
    Membership.objects.filter(study=study, user_id=session_user_id(real)).update(consented_at=timezone.now())
    assert real.post(f"/api/studies/{study.pk}/assignments/next/").status_code == 201


def test_crowd_signups_are_rate_limited_per_study(study, settings, mid_window):
    settings.CROWD_SIGNUPS_PER_STUDY = 2
    for i in range(2):
        assert (
            Client(REMOTE_ADDR=f"10.0.0.{i}").get(crowd_url(study, PROLIFIC_PID=f"pid{i}bbbb")).status_code
            == 302
        )
    response = Client(REMOTE_ADDR="10.0.0.9").get(crowd_url(study, PROLIFIC_PID="pid9bbbb"))
    assert response.status_code == 429 and "Please try again" in response.content.decode()
    assert (
        Client(REMOTE_ADDR="10.0.0.9").get(crowd_url(StudyFactory(), PROLIFIC_PID="pid9bbbb")).status_code
        == 302
    )


# ---------- the crowd key ----------


def not_found(client, url):
    response = client.get(url)
    assert response.status_code == 404, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("key", [None, "", "wrong-key", "%C3%A9t%C3%A9", "x" * 300])
def test_crowd_link_without_the_right_key_is_404_and_creates_nothing(client, study, key):
    body = not_found(client, crowd_url(study, key=key))
    assert "Study link not found" in body and study.title not in body
    assert not User.objects.filter(crowd_pid=PID).exists()
    assert not Membership.objects.filter(study=study).exists()
    assert session_user_id(client) is None


def test_study_with_an_empty_crowd_key_takes_no_crowd_entrants(client, db):
    closed_to_crowd = StudyFactory(crowd_key="")
    for key in (None, "", "anything"):
        not_found(client, crowd_url(closed_to_crowd, key=key))
    assert not User.objects.filter(crowd_pid=PID).exists()


def test_the_404_does_not_tell_whether_the_study_exists(client, study):
    no_crowd = StudyFactory(crowd_key="")
    pages = {
        not_found(client, crowd_url(study, key="wrong")),
        not_found(client, crowd_url(no_crowd, key="wrong")),
        not_found(client, f"/crowd/no-such-study/?key=wrong&PROLIFIC_PID={PID}"),
    }
    # identical for all three, once the per-response CSRF token mask is taken out
    assert len({re.sub(r'"X-CSRFToken": "[^"]*"', "", page) for page in pages}) == 1


def test_the_key_is_compared_in_constant_time(client, study, monkeypatch):
    import hmac

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client.get(crowd_url(study, key="wrong"))
    client.get(crowd_url(study))
    assert calls == [(b"wrong", study.crowd_key.encode()), (study.crowd_key.encode(),) * 2]


def test_new_studies_get_distinct_random_crowd_keys(db):
    keys = {StudyFactory().crowd_key for _ in range(5)}
    assert len(keys) == 5 and all(len(k) >= 20 for k in keys)


def test_demo_study_crowd_link_uses_the_key_demo(client, db, settings, tmp_path, render_once):
    from labeling.demo import demo_setup
    from labeling.models import Study

    settings.MEDIA_ROOT = tmp_path / "media"
    demo_setup(simulate=False)
    study = Study.objects.get(slug="demo")
    assert study.crowd_key == "demo"
    Study.objects.filter(pk=study.pk).update(crowd_key="made-before-crowd-keys")
    again = demo_setup(simulate=False)
    assert Study.objects.get(pk=study.pk).crowd_key == "demo" and again.clips_added == 0
    assert demo_setup(simulate=False).created == []  # idempotent
    response = client.get("/crowd/demo/?key=demo&PROLIFIC_PID=P123&STUDY_ID=S1&SESSION_ID=X1")
    assert response.status_code == 302 and response["Location"] == reverse("study-consent", args=[study.pk])
    assert client.get("/crowd/demo/?PROLIFIC_PID=P124").status_code == 404


def test_missing_pid_gets_a_clear_error_page_and_creates_nothing(client, study):
    response = client.get(crowd_url(study, PROLIFIC_PID=None))
    assert response.status_code == 400
    body = response.content.decode()
    assert "This study link is incomplete" in body and "PROLIFIC_PID" in body and "is missing" in body
    assert not User.objects.filter(is_pseudonymous=True).exists()
    assert not Membership.objects.filter(study=study).exists()
    assert session_user_id(client) is None


@pytest.mark.parametrize(
    ("pid", "message"),
    [
        ("{{%PROLIFIC_PID%}}", "placeholder"),
        ("abc", "not a valid participant id"),
        ("has space", "not a valid participant id"),
        ("x" * 65, "not a valid participant id"),
        ("<script>", "not a valid participant id"),
    ],
)
def test_malformed_pid_is_refused(client, study, pid, message):
    from urllib.parse import quote

    response = client.get(crowd_url(study, PROLIFIC_PID=quote(pid)))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(is_pseudonymous=True).exists()


def test_malformed_session_id_is_refused(client, study):
    response = client.get(crowd_url(study, SESSION_ID="bad%20id"))
    assert response.status_code == 400
    assert "SESSION_ID" in response.content.decode()
    assert not User.objects.filter(crowd_pid=PID).exists()


def test_unknown_crowd_slug_is_404(client, db):
    assert client.get(f"/crowd/no-such-study/?key=x&PROLIFIC_PID={PID}").status_code == 404


def test_closed_study_takes_no_new_crowd_workers_but_lets_members_back(client, study):
    study.is_active = False
    study.save()
    response = client.get(crowd_url(study))
    assert response.status_code == 403 and "closed" in response.content.decode()
    assert not User.objects.filter(crowd_pid=PID).exists()
    member = UserFactory(
        username="crowd-old", is_pseudonymous=True, crowd_study=study, crowd_pid="7b7b7b7b7b7b7b7b7b7b7b7b"
    )
    MembershipFactory(study=study, user=member, joined_via="crowd")
    response = client.get(crowd_url(study, PROLIFIC_PID="7b7b7b7b7b7b7b7b7b7b7b7b"))
    assert response.status_code == 302 and session_user_id(client) == member.pk


def test_crowd_pid_never_logs_into_a_staff_or_regular_account(client, study):
    UserFactory(username="admin-with-pid", is_staff=True, crowd_study=study, crowd_pid=PID)
    response = client.get(crowd_url(study))
    assert response.status_code == 403
    assert session_user_id(client) is None


# ---------- invite links ----------


def make_invite(study, **fields):
    return Invite.objects.create(study=study, **fields)


def test_invite_get_shows_the_study_and_uses_nothing(client, study):
    invite = make_invite(study, max_uses=1)
    response = client.get(reverse("invite", args=[invite.token]))
    assert response.status_code == 200 and study.title in response.content.decode()
    invite.refresh_from_db()
    assert invite.uses == 0 and not Membership.objects.filter(study=study).exists()


def test_anonymous_visitor_joins_with_a_new_pseudonymous_account(client, study):
    invite = make_invite(study, max_uses=5)
    response = client.post(reverse("invite", args=[invite.token]))
    assert response.status_code == 302 and response["Location"] == reverse("study-consent", args=[study.pk])
    membership = Membership.objects.get(study=study)
    assert membership.joined_via == "invite" and membership.user.is_pseudonymous
    assert session_user_id(client) == membership.user_id
    invite.refresh_from_db()
    assert invite.uses == 1


def test_logged_in_user_joins_with_their_account(client, study, user):
    invite = make_invite(study, role="researcher")
    client.force_login(user)
    client.post(reverse("invite", args=[invite.token]))
    membership = Membership.objects.get(study=study, user=user)
    assert membership.role == "researcher" and membership.joined_via == "invite"
    assert User.objects.filter(is_pseudonymous=True).count() == 0


def test_existing_member_uses_nothing_up(client, study):
    member = MembershipFactory(study=study)
    invite = make_invite(study, max_uses=1)
    client.force_login(member.user)
    response = client.post(reverse("invite", args=[invite.token]))
    assert response["Location"] == reverse("study-queue", args=[study.pk])
    invite.refresh_from_db()
    assert invite.uses == 0


def test_invite_stops_at_max_uses(client, study):
    invite = make_invite(study, max_uses=2)
    for _ in range(2):
        client.logout()
        assert client.post(reverse("invite", args=[invite.token])).status_code == 302
    client.logout()
    response = client.post(reverse("invite", args=[invite.token]))
    assert response.status_code == 410 and "used as many times" in response.content.decode()
    invite.refresh_from_db()
    assert invite.uses == 2
    assert Membership.objects.filter(study=study).count() == 2
    assert User.objects.filter(is_pseudonymous=True).count() == 2


def test_expired_invite_is_refused(client, study):
    invite = make_invite(study, expires_at=timezone.now() - timedelta(minutes=1))
    for method in (client.get, client.post):
        response = method(reverse("invite", args=[invite.token]))
        assert response.status_code == 410 and "expired" in response.content.decode()
    assert not Membership.objects.filter(study=study).exists()
    assert not User.objects.filter(is_pseudonymous=True).exists()


def test_invite_to_closed_study_is_refused(client, study):
    study.is_active = False
    study.save()
    invite = make_invite(study)
    assert client.post(reverse("invite", args=[invite.token])).status_code == 410
    assert not Membership.objects.filter(study=study).exists()


def test_unknown_invite_is_404(client, db):
    assert client.get(reverse("invite", args=["nope"])).status_code == 404


def test_researcher_invite_makes_no_passwordless_researcher(client, study):
    invite = make_invite(study, role="researcher")
    page = client.get(reverse("invite", args=[invite.token])).content.decode()
    assert "Sign up and join" in page and 'name="password1"' in page and "Log in" in page
    response = client.post(reverse("invite", args=[invite.token]))  # the old one-click join
    assert response.status_code == 400
    assert not Membership.objects.filter(study=study).exists()
    assert session_user_id(client) is None and not User.objects.exists()
    with pytest.raises(NotAllowed):
        services.invite_accept(invite=invite, user=None)
    invite.refresh_from_db()
    assert invite.uses == 0


def test_researcher_invite_refuses_a_logged_in_pseudonymous_account(client, study):
    invite = make_invite(study, role="researcher")
    guest = UserFactory(username="guest-1a2b3c", is_pseudonymous=True)
    guest.set_unusable_password()
    guest.save()
    client.force_login(guest)
    assert "has none" in client.get(reverse("invite", args=[invite.token])).content.decode()
    response = client.post(reverse("invite", args=[invite.token]))
    assert response.status_code == 403
    assert not Membership.objects.filter(study=study, user=guest).exists()


def test_researcher_invite_signup_makes_a_real_account_with_a_checked_password(client, study):
    invite = make_invite(study, role="researcher")
    url = reverse("invite", args=[invite.token])
    weak = client.post(url, {"username": "dr-new", "password1": "short", "password2": "short"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    assert not User.objects.filter(username="dr-new").exists()
    good = "a-long-enough-passphrase-42"
    response = client.post(url, {"username": "dr-new", "password1": good, "password2": good})
    assert response.status_code == 302
    user = User.objects.get(username="dr-new")
    assert not user.is_pseudonymous and user.check_password(good)
    assert Membership.objects.get(study=study, user=user).role == "researcher"
    assert session_user_id(client) == user.pk
    invite.refresh_from_db()
    assert invite.uses == 1


def test_crowd_account_cannot_join_another_study_through_an_invite(client, study):
    crowd = UserFactory(username="crowd-x", is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid=PID)
    MembershipFactory(study=crowd.crowd_study, user=crowd)
    client.force_login(crowd)
    response = client.post(reverse("invite", args=[make_invite(study).token]))
    assert response.status_code == 403 and "crowd participant" in response.content.decode()
    assert not Membership.objects.filter(study=study, user=crowd).exists()


def test_invite_accept_counts_uses_atomically(study):
    """The service refuses once the counter is at the cap even if the caller's copy is stale."""
    from annotator.services import invite_accept
    from labeling.errors import NotAllowed

    invite = make_invite(study, max_uses=1)
    stale = Invite.objects.get(pk=invite.pk)
    invite_accept(invite=invite)
    with pytest.raises(NotAllowed):
        invite_accept(invite=stale)  # stale.uses == 0 in memory, but the conditional UPDATE sees 1
    assert Invite.objects.get(pk=invite.pk).uses == 1
    assert Membership.objects.filter(study=study).count() == 1


# ---------- log-in and home ----------


def test_login_page_logs_in_and_goes_home(client, user):
    page = client.get(reverse("login"))
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.content.decode()
    response = client.post(reverse("login"), {"username": user.username, "password": "pw-for-tests-only"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert session_user_id(client) == user.pk


def test_login_with_a_wrong_password_says_so(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert response.status_code == 200 and "enter a correct" in response.content.decode().lower()


def test_home_needs_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_home_lists_the_users_studies_with_the_right_links(client, user):
    rated = MembershipFactory(user=user)
    fresh = MembershipFactory(user=user, consented_at=None)
    researched = MembershipFactory(user=user, role="researcher")
    other = MembershipFactory()  # someone else's study
    client.force_login(user)
    body = client.get(reverse("home")).content.decode()
    assert f'href="/s/{rated.study_id}/"' in body
    assert f'href="/s/{fresh.study_id}/consent/"' in body
    assert f'href="/studies/{researched.study_id}/"' in body
    assert other.study.title not in body


def test_study_page_shows_the_crowd_link_with_its_key_or_says_crowd_entry_is_off(client, study, researcher):
    client.force_login(researcher)
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    link = (
        f"http://testserver/crowd/{study.slug}/?key={study.crowd_key}&amp;PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
    )
    assert link in html and 'id="crowd-off"' not in html
    study.crowd_key = ""
    study.save()
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert 'id="crowd-off"' in html and "Crowd entry is off" in html and "/crowd/" not in html
