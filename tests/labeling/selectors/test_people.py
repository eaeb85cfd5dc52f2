"""Reads of a study's people: annotator counts and the annotator list, one query each."""

from labeling import selectors


def test_annotator_counts_and_list(dashboard_setup, django_assert_num_queries):
    study = dashboard_setup["study"]
    m1, m2, m3, m4 = dashboard_setup["members"]
    with django_assert_num_queries(1):
        counts = selectors.study_annotator_counts(study=study)
    assert counts == {
        "annotators": 4, "consented": 4, "completed": 0, "crowd": 0, "working_now": 1, "researchers": 1,
    }  # fmt: skip
    with django_assert_num_queries(1):
        rows = {m.user_id: m for m in selectors.study_annotators(study=study)}
    assert {uid: (m.submitted, m.leases) for uid, m in rows.items()} == {
        m1.user_id: (3, 0), m2.user_id: (2, 0), m3.user_id: (1, 0), m4.user_id: (0, 1),
    }  # fmt: skip
    assert list(rows)[0] == m4.user_id  # most recently active first: m4 claimed last
    assert all(m.last_active_at is not None for m in rows.values())
