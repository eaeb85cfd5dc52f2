"""labeling/migrations: studies that existed before crowd keys each get their own."""


def test_migrated_studies_do_not_share_a_crowd_key(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from labeling.models import Study as StudyModel

    executor = MigrationExecutor(connection)
    executor.migrate([("labeling", "0002_agreement_report")])
    old_apps = executor.loader.project_state([("labeling", "0002_agreement_report")]).apps
    OldStudy = old_apps.get_model("labeling", "Study")
    for i in range(3):
        OldStudy.objects.create(title=f"old {i}", slug=f"old-{i}")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    keys = list(StudyModel.objects.filter(slug__startswith="old-").values_list("crowd_key", flat=True))
    assert len(keys) == 3 and len(set(keys)) == 3 and all(len(k) >= 20 for k in keys)
