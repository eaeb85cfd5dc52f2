import shutil
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exports.models import Export
from exports.services import export_build, export_start
from labeling.errors import ValidationFailed
from labeling.management import study_from_ref

BAD_INPUT = 2


class ProgressBar:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self.shown, self.last = -1, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if self.tty:
            if now - self.last < 0.1 and fraction < 1:
                return
            filled = int(self.WIDTH * fraction)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%}  {message[:60]:<60}")
        elif int(fraction * 10) > self.shown:
            self.shown = int(fraction * 10)
            self.stream.write(f"{fraction:4.0%}  {message}\n")
        self.stream.flush()
        self.last = now

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _grid(text: str):
    parts = text.lower().replace("×", "x").split("x")
    try:
        return [int(p) for p in parts] if len(parts) == 2 else text
    except ValueError:
        return text


def _splits(text: str):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        return text
    return dict(zip(("train", "validation", "test"), values, strict=True)) if len(values) == 3 else text


def _seed(text: str):
    try:
        return int(text)
    except ValueError:
        return text


class Command(BaseCommand):
    help = (
        "Build a dataset export of a study in this process (the same service the Celery task runs), with a "
        "progress bar, and print where it is. STUDY is the study's slug or id."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug or id of the study")
        parser.add_argument("--out", help="also copy the finished export folder here (must not exist yet)")
        parser.add_argument("--format", help="comma-separated: parquet (always), csv, jsonl")
        parser.add_argument("--grid", help="valence x arousal bins of the 2-D histogram, e.g. 5x5")
        parser.add_argument("--splits", help="train,validation,test fractions, e.g. 0.8,0.1,0.1")
        parser.add_argument("--seed", help="split seed (a whole number)")
        parser.add_argument("--include-free-text", action="store_true", help="context notes and reasons")
        parser.add_argument("--include-media", action="store_true", help="clips whose participants consented")
        parser.add_argument(
            "--stable-salt", action="store_true", help="the same annotator/participant ids in every export"
        )

    def parameters(self, options) -> dict:
        params: dict = {}
        if options["format"] is not None:
            params["formats"] = options["format"]
        if options["grid"] is not None:
            params["grid"] = _grid(options["grid"])
        if options["splits"] is not None:
            params["splits"] = _splits(options["splits"])
        if options["seed"] is not None:
            params["split_seed"] = _seed(options["seed"])
        for flag, key in (
            ("include_free_text", "include_free_text"),
            ("include_media", "include_media"),
            ("stable_salt", "stable_salt"),
        ):
            if options[flag]:
                params[key] = True
        return params

    def handle(self, *args, **options):
        try:
            study = study_from_ref(options["study"])
        except CommandError as exc:
            raise CommandError(str(exc), returncode=BAD_INPUT) from None
        out = Path(options["out"]) if options["out"] else None
        if out is not None and out.exists():
            raise CommandError(f"--out {out} already exists; give a new folder.", returncode=BAD_INPUT)
        try:
            export = export_start(study=study, parameters=self.parameters(options), enqueue=False)
        except ValidationFailed as exc:
            lines = [exc.message, *(f"  {field}: {text}" for field, text in (exc.errors or {}).items())]
            raise CommandError("\n".join(lines), returncode=BAD_INPUT) from None
        bar = ProgressBar(sys.stderr)
        try:
            built = export_build(export_id=export.pk, progress=bar)
        finally:
            bar.close()
        export = built or Export.objects.get(pk=export.pk)
        if export.status != Export.Status.DONE:
            raise CommandError(f"Export v{export.version} (#{export.pk}) {export.status}: {export.error}")
        folder = Path(settings.EXPORTS_ROOT) / export.folder
        if out is not None:
            shutil.copytree(folder, out)
        self.summary(export, out or folder)

    def summary(self, export: Export, folder: Path) -> None:
        out = self.stdout.write
        out(str(folder))
        counts = ", ".join(f"{table} {rows:,}" for table, rows in export.row_counts.items())
        out(
            f"Export v{export.version} (#{export.pk}) of {export.study.title}: {counts} rows; "
            f"{len(export.files)} files, {export.total_bytes:,} bytes, built in {export.duration_s:.1f} s."
        )
