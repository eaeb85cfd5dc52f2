"""The labeling tables carry no index that another one makes redundant, and their status columns are checked.

Every index costs each insert and update on its table (Annotation's sat on the submit path nine times). The
database is the one the migrations built, so these tests also hold the migrations to the models.
"""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection
from django.db.models import Q

from labeling import services
from labeling.models import AgreementReport, Assignment
from tests.factories import ClipFactory, MembershipFactory

LABELING_MODELS = list(apps.get_app_config("labeling").get_models())


# Left prefixes kept on purpose, each with its reason in the model.
KEPT = {"labeling_clip_study_id_75978370"}  # Clip.study: the unique (study, sha256) index is four times wider


def _partial_index_names() -> set[str]:
    """Indexes and unique constraints with a condition: they serve only some rows, so they cover nothing."""
    return {
        item.name
        for model in LABELING_MODELS
        for item in (*model._meta.indexes, *model._meta.constraints)
        if getattr(item, "condition", None) is not None
    }


def test_no_index_duplicates_another_or_is_a_left_prefix_of_one(db):
    partial = _partial_index_names()
    redundant = []
    with connection.cursor() as cursor:
        for model in LABELING_MODELS:
            table = model._meta.db_table
            indexes = {
                name: info["columns"]
                for name, info in connection.introspection.get_constraints(cursor, table).items()
                if (info["index"] or info["unique"]) and not info["primary_key"]
            }
            unique = {
                name
                for name, info in connection.introspection.get_constraints(cursor, table).items()
                if info["unique"]
            }
            for name, columns in indexes.items():
                # A unique index is a constraint, needed whatever else exists. A "_like" index is PostgreSQL's
                # pattern-matching twin (varchar_pattern_ops) Django adds beside a unique text column.
                if name in unique or name in partial or name in KEPT or name.endswith("_like"):
                    continue
                redundant += [
                    f"{table}: {name} {columns} is covered by {other} {other_columns}"
                    for other, other_columns in indexes.items()
                    if other != name and other not in partial and other_columns[: len(columns)] == columns
                ]
    assert redundant == []


def test_the_one_open_report_per_study_rule_survived_the_index_changes(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AgreementReport._meta.db_table)
    assert constraints["agreement_report_one_open_per_study"]["unique"]


@pytest.mark.parametrize(
    ("model", "name"),
    [(Assignment, "assignment_status_valid"), (AgreementReport, "agreement_report_status_valid")],
)
def test_each_status_check_lists_exactly_the_model_statuses(model, name):
    (constraint,) = [c for c in model._meta.constraints if c.name == name]
    assert constraint.condition == Q(status__in=model.Status.values)


def test_the_database_refuses_a_status_that_is_not_one(study):
    """The PostgreSQL fast path writes status literals in SQL: a typo there must fail, not store a new status."""
    ClipFactory(study=study)
    assignment = services.assignment_claim_next(membership=MembershipFactory(study=study))
    with pytest.raises(IntegrityError):
        Assignment.objects.filter(pk=assignment.pk).update(status="submited")
