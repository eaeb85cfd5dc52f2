from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exports.verify import verify_folder


class Command(BaseCommand):
    help = (
        "Check an export folder against its manifest.json: every file present with its size and SHA-256, "
        "no unlisted file, Parquet row counts as listed. Exits non-zero and lists every problem otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="the export folder (the one holding manifest.json)")

    def handle(self, *args, **options):
        problems = verify_folder(Path(options["folder"]))
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} problem(s) found in {options['folder']}.")
        self.stdout.write(self.style.SUCCESS(f"OK: {options['folder']} matches its manifest."))
