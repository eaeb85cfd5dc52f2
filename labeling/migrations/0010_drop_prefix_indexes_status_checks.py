"""Drop the indexes that another index makes redundant, and check the status columns.

- annotation_clip_idx duplicated the index Django gives the Annotation.clip foreign key.
- Nine foreign-key indexes are the left prefix of a composite index or unique constraint on the same table
  (the models say which); those fields become db_index=False (Clip.study keeps its own: see the model). Only
  the index goes, the foreign keys stay as they are: an AlterField would also drop and re-add each foreign
  key, re-checking whole tables, and on AgreementReport.study it drops the partial unique index
  agreement_report_one_open_per_study without putting it back. Hence state-only AlterFields and one
  DROP INDEX per index.
- Assignment.status (written as literals by the PostgreSQL fast path, labeling/services/_pg.py) and
  AgreementReport.status get check constraints.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, the name Django gave the foreign key's own index: the same on PostgreSQL and SQLite)
PREFIX_INDEXES = [
    ("labeling_agreementreport", "study_id", "labeling_agreementreport_study_id_4ab55539"),
    ("labeling_annotation", "study_id", "labeling_annotation_study_id_8110e299"),
    ("labeling_apitoken", "user_id", "labeling_apitoken_user_id_246716f9"),
    ("labeling_assignment", "annotator_id", "labeling_assignment_annotator_id_1d54380b"),
    ("labeling_assignment", "clip_id", "labeling_assignment_clip_id_520410f0"),
    ("labeling_membership", "study_id", "labeling_membership_study_id_0433a7dd"),
    ("labeling_membership", "user_id", "labeling_membership_user_id_b7eb14fe"),
    ("labeling_participant", "study_id", "labeling_participant_study_id_11408742"),
    ("labeling_schemeversion", "study_id", "labeling_schemeversion_study_id_9e24deb8"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0009_ops_heartbeat'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='annotation',
            name='annotation_clip_idx',
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for table, column, name in PREFIX_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='agreementreport',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='agreement_reports', to='labeling.study'),
                ),
                migrations.AlterField(
                    model_name='annotation',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='annotations', to='labeling.study'),
                ),
                migrations.AlterField(
                    model_name='apitoken',
                    name='user',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='assignment',
                    name='annotator',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='assignment',
                    name='clip',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='labeling.clip'),
                ),
                migrations.AlterField(
                    model_name='membership',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='labeling.study'),
                ),
                migrations.AlterField(
                    model_name='membership',
                    name='user',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='participant',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='labeling.study'),
                ),
                migrations.AlterField(
                    model_name='schemeversion',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='schemes', to='labeling.study'),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name='agreementreport',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'running', 'done', 'failed'])), name='agreement_report_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='assignment',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['active', 'submitted', 'expired'])), name='assignment_status_valid'),
        ),
    ]
