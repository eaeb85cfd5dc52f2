from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.management import study_from_ref
from labeling.services import SelfReportImportRefused, self_reports_import


class Command(BaseCommand):
    help = (
        "Import the filmed participants' self-reports into a study from a CSV or JSON file (docs/self-reports.md). "
        "All or nothing: a file with any bad row imports nothing, and every bad row is listed (exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug or id")
        parser.add_argument("file", type=Path, help="a .csv, .tsv, .txt or .json file")
        parser.add_argument("--dry-run", action="store_true", help="check the file and report; write nothing")

    def handle(self, *args, **options):
        study = study_from_ref(options["study"])
        path: Path = options["file"]
        try:
            with open(path, "rb") as f:
                content = f.read(settings.SELF_REPORT_IMPORT_MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            report = self_reports_import(
                study=study, content=content, filename_or_format=path.name, dry_run=options["dry_run"]
            )
        except SelfReportImportRefused as exc:
            self.stdout.write(exc.report.lines)
            for error in exc.report.errors:
                self.stdout.write(
                    self.style.ERROR(f"{error['where']:>10}  {error['field']}: {error['message']}")
                )
            raise CommandError(exc.message) from None
        if report.dry_run:
            summary = (
                f"Dry run, nothing written: {report.rows} rows checked; {report.created} would be created"
            )
        else:
            summary = f"{report.rows} rows: {report.created} self-reports created"
        self.stdout.write(self.style.SUCCESS(f"{summary}, {report.unchanged} already imported (unchanged)."))
