"""Reads of a study's labels: the most recent ratings."""

from labeling import selectors


def test_recent_annotations_newest_first(dashboard_setup):
    recent = selectors.study_recent_annotations(study=dashboard_setup["study"], limit=10)
    assert len(recent) == 6
    assert [a.created_at for a in recent] == sorted((a.created_at for a in recent), reverse=True)
    assert recent[0].annotator_id == dashboard_setup["members"][0].user_id  # m1 rated clip c last
