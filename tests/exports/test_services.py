"""exports.services.export_build: claim, build into a temporary folder, record; fail plainly, leave nothing
half-written, retry idempotently. (The tables themselves: test_build.py.)"""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exports import services
from exports.build import DataChanged
from exports.build import run as build_run
from exports.models import Export
from exports.services import JOBS, export_build, export_start
from exports.tasks import build_export
from exports.version import code_version, git_commit
from labeling.models import Annotation
from tests.conftest import ON_POSTGRES
from tests.exports.conftest import SECRET_TEXTS, build, content_hash, folder_of, manifest_of, read_table
from tests.exports.test_build import check_labels_against_ratings

TABLES = (
    ("ratings", "rating_id"),
    ("clip_labels", "clip_id"),
    ("clips", "clip_id"),
    ("annotators", "annotator_id"),
)


def hashes(export) -> dict[str, str]:
    return {name: content_hash(read_table(export, name), key) for name, key in TABLES}


def leftovers(root: Path) -> list[Path]:
    return [p for p in (root / ".tmp").glob("*")] if (root / ".tmp").exists() else []


def test_a_build_records_its_files_and_moves_into_place(rated, exports_root):
    export = build(rated)
    folder = folder_of(export)
    assert export.folder == f"{rated.pk}/v{export.version}-{export.pk}" and folder.is_dir()
    assert leftovers(exports_root) == []
    listed = {f["path"]: f for f in export.files}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == set(listed) | {"manifest.json"} and {"README.md", "croissant.json"} <= set(listed)
    for path, entry in listed.items():
        data = (folder / path).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert export.total_bytes == sum(len((folder / p).read_bytes()) for p in on_disk)
    manifest = manifest_of(export)
    assert export.row_counts == {name: t["rows"] for name, t in manifest["tables"].items()}
    assert export.row_counts["ratings"] == 26 and export.row_counts["annotators"] == 4
    assert export.duration_s > 0 and export.progress == 1.0 and export.code_version
    assert manifest["export"]["code_version"] == export.code_version
    assert manifest["watermark"]["last_annotation_id"] == export.watermark_last_id
    assert manifest["study"] == {"id": rated.pk, "slug": rated.slug, "title": rated.title}
    assert export.supersedes is None and build(rated).supersedes_id == export.pk


def test_a_finished_or_unknown_export_is_left_alone(rated):
    export = build(rated)
    before = (export.status, export.finished_at, export.files)
    assert export_build(export_id=export.pk) is None
    export.refresh_from_db()
    assert (export.status, export.finished_at, export.files) == before
    assert export_build(export_id=10**9) is None


def test_a_failing_build_says_why_and_leaves_nothing(rated, exports_root, monkeypatch):
    monkeypatch.setattr(build_run, "RATING_BATCH", 3)  # several batches: the failure comes mid-way
    calls = []
    real = build_run.clip_labels_table

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("injected failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(build_run, "clip_labels_table", failing)
    export = export_start(study=rated, parameters={}, enqueue=False)
    done = export_build(export_id=export.pk)
    assert done.status == "failed" and "injected failure" in done.error and done.progress_message == "failed"
    assert done.folder == "" and done.files == [] and done.finished_at is not None
    assert not (exports_root / str(rated.pk)).exists() and leftovers(exports_root) == []


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (SoftTimeLimitExceeded(), f"took longer than {services.SOFT_TIME_LIMIT_S} s"),
        (OSError(28, "No space left on device"), "Writing the export's files failed"),
    ],
)
def test_failures_are_explained_in_plain_words(rated, exports_root, monkeypatch, error, message):
    def stop(*args, **kwargs):
        raise error

    monkeypatch.setattr(build_run, "write_clips", stop)
    export = export_start(study=rated, parameters={}, enqueue=False)
    done = export_build(export_id=export.pk)
    assert done.status == "failed" and message in done.error
    assert leftovers(exports_root) == [] and not (exports_root / str(rated.pk)).exists()


def test_an_interrupted_build_fails_and_the_interrupt_goes_on(rated, exports_root, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_run, "write_clips", interrupt)
    export = export_start(study=rated, parameters={}, enqueue=False)
    with pytest.raises(KeyboardInterrupt):
        export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == "failed" and export.error == "The build was interrupted."
    assert leftovers(exports_root) == []


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), DataChanged()])
def test_a_transient_failure_hands_the_export_back_for_the_retry(rated, exports_root, monkeypatch, error):
    real, calls = build_run.write_clips, []

    def once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(build_run, "write_clips", once)
    export = export_start(study=rated, parameters={}, enqueue=False)
    with pytest.raises(type(error)):
        export_build(export_id=export.pk, final_attempt=False)
    export.refresh_from_db()
    assert export.status == "pending" and export.attempts == 0 and leftovers(exports_root) == []
    assert export_build(export_id=export.pk).status == "done"


def test_the_last_attempt_stores_a_transient_failure(rated, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(build_run, "write_clips", down)
    export = export_start(study=rated, parameters={}, enqueue=False)
    done = export_build(export_id=export.pk, final_attempt=True)
    assert done.status == "failed" and "could not be read" in done.error


def test_a_build_killed_mid_way_is_taken_over_and_builds_the_same(rated, exports_root):
    export = build(rated)
    first = hashes(export)
    # a worker died after its claim: the row says running since long ago, a temporary folder is left over
    stale = timezone.now() - JOBS.stale_running - timedelta(seconds=1)
    Export.objects.filter(pk=export.pk).update(status="running", started_at=stale, finished_at=None)
    (exports_root / ".tmp" / f"{export.pk}-dead0000").mkdir(parents=True)
    again = export_build(export_id=export.pk)
    assert again.status == "done" and again.attempts == 2 and again.folder == export.folder
    assert hashes(again) == first and leftovers(exports_root) == []


def test_a_live_build_is_not_taken_over(rated):
    export = export_start(study=rated, parameters={}, enqueue=False)
    Export.objects.filter(pk=export.pk).update(status="running", started_at=timezone.now(), attempts=1)
    assert export_build(export_id=export.pk) is None
    assert Export.objects.get(pk=export.pk).status == "running"


def test_a_build_killed_three_times_is_given_up(rated):
    export = export_start(study=rated, parameters={}, enqueue=False)
    stale = timezone.now() - JOBS.stale_running - timedelta(seconds=1)
    Export.objects.filter(pk=export.pk).update(
        status="running", started_at=stale, attempts=services.MAX_ATTEMPTS
    )
    assert export_build(export_id=export.pk) is None
    export.refresh_from_db()
    assert export.status == "failed" and "stopped 3 times" in export.error


def test_progress_is_reported_and_its_saves_are_throttled(rated, monkeypatch):
    monkeypatch.setattr(build_run, "RATING_BATCH", 2)
    seen = []
    export = export_start(study=rated, parameters={}, enqueue=False)
    export_build(export_id=export.pk, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) > 10
    assert any(m.startswith("ratings: ") for _, m in seen)

    mine = Export.objects.filter(pk=export.pk)
    save = JOBS.progress_saver(mine, 60.0)
    with CaptureQueriesContext(connections["default"]) as queries:
        for i in range(50):
            save(i / 50, "busy")
    assert len(queries) == 1


def test_the_task_builds_through_the_service(rated):
    export = export_start(study=rated, parameters={}, enqueue=False)
    assert build_export.apply(args=(export.pk,)).get() == "done"
    assert build_export.apply(args=(export.pk,)).get() is None  # run twice: built once
    assert build_export.time_limit == services.TIME_LIMIT_S > build_export.soft_time_limit


def test_code_version_names_the_release_or_the_checkout(settings, tmp_path):
    settings.CODE_VERSION = "v1.2.3-image"
    assert code_version() == "v1.2.3-image"
    settings.CODE_VERSION = ""
    assert code_version().startswith("0.1.0")
    git = tmp_path / ".git"
    (git / "refs/heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\n" + "a" * 40 + " refs/heads/main\n")
    assert git_commit(tmp_path) == "a" * 40
    (git / "refs/heads/main").write_text("b" * 40 + "\n")
    assert git_commit(tmp_path) == "b" * 40
    (git / "HEAD").write_text("c" * 40)
    assert git_commit(tmp_path) == "c" * 40
    assert git_commit(tmp_path / "nowhere") is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_worker_build_reads_one_snapshot_by_copy_and_shows_progress(rated, monkeypatch):
    """A worker's build (no caller's transaction): one REPEATABLE READ snapshot, rows by COPY read ahead in a
    second thread, progress saved through a second connection so others see it while the build runs."""
    assert ON_POSTGRES
    from exports.build import source

    monkeypatch.setattr(source, "CSV_BLOCK_BYTES", 1024)  # many small batches
    monkeypatch.setattr(services, "PROGRESS_INTERVAL_S", 0.0)  # every step saved
    used = []
    real_copy = source._copy_batches
    monkeypatch.setattr(source, "_copy_batches", lambda *a, **k: used.append(1) or real_copy(*a, **k))
    odd = Annotation.objects.filter(study=rated, cannot_judge=False).first()
    Annotation.objects.filter(pk=odd.pk).update(valence=0.1 + 0.2)  # 0.30000000000000004: every digit counts
    export = export_start(study=rated, parameters={"include_free_text": True}, enqueue=False)
    seen_elsewhere = []
    observer = connections.create_connection("default")

    def watch(fraction, message):
        if 0 < fraction < 1:
            with observer.cursor() as cursor:
                cursor.execute(
                    "SELECT progress, progress_message FROM exports_export WHERE id = %s", [export.pk]
                )
                seen_elsewhere.append(cursor.fetchone())

    try:
        done = export_build(export_id=export.pk, progress=watch)
    finally:
        observer.close()
    assert done.status == "done", done.error
    assert used and any(p > 0 and m.startswith("ratings") for p, m in seen_elsewhere)
    check_labels_against_ratings(done)
    ratings = read_table(done, "ratings")
    exported = dict(
        zip(ratings.column("rating_id").to_pylist(), ratings.column("valence").to_pylist(), strict=True)
    )
    assert exported == dict(Annotation.objects.filter(study=rated).values_list("id", "valence"))
    assert exported[odd.pk] == 0.1 + 0.2
    notes = [n for n in ratings.column("context_note").to_pylist() if n]
    assert SECRET_TEXTS["note"] in notes and set(notes) <= {
        SECRET_TEXTS["note"],
        "kitchen",
    }  # exact, line break too


@pytest.mark.postgres
def test_on_postgresql_inside_a_transaction_rows_come_through_a_server_side_cursor(rated, monkeypatch):
    """Inside a caller's transaction (here the test's) a COPY would hold the connection the progress saves
    need: the rows are fetched through a server-side cursor instead, a batch at a time."""
    monkeypatch.setattr(build_run, "RATING_BATCH", 4)
    open_cursors = []

    def look(fraction, message):
        if message.startswith("ratings"):
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT name FROM pg_cursors WHERE name LIKE 'export_rows_%%'")
                open_cursors.extend(name for (name,) in cursor.fetchall())

    export = export_start(study=rated, parameters={}, enqueue=False)
    done = export_build(export_id=export.pk, progress=look)
    assert done.status == "done" and open_cursors
    check_labels_against_ratings(done)
