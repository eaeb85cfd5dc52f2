import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.errors import ValidationFailed
from labeling.management import study_from_ref
from labeling.services import clip_create

VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".ogv", ".ogg", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp",
}  # fmt: skip


def read_participants(path: Path) -> dict[str, str]:
    """filename -> participant code, from a CSV with a header row `filename,participant`."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
            file_col = fields.get("filename") or fields.get("file")
            code_col = fields.get("participant") or fields.get("participant_code") or fields.get("code")
            if not file_col or not code_col:
                raise CommandError(
                    f"{path}: needs a header row with the columns 'filename' and 'participant'."
                )
            mapping: dict[str, str] = {}
            for line, row in enumerate(reader, start=2):
                name, code = (row.get(file_col) or "").strip(), (row.get(code_col) or "").strip()
                if not name or not code:
                    raise CommandError(
                        f"{path}, line {line}: both a filename and a participant code are needed."
                    )
                if name in mapping and mapping[name] != code:
                    raise CommandError(f"{path}, line {line}: {name} is given two participants.")
                if len(code) > 64:
                    raise CommandError(f"{path}, line {line}: participant codes have at most 64 characters.")
                mapping[name] = code
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from exc
    return mapping


class Command(BaseCommand):
    help = "Import every video file in DIR into a study; each file is validated like an upload."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug or id")
        parser.add_argument("directory", type=Path)
        parser.add_argument("--participants", type=Path, help="CSV with columns filename, participant (code)")
        parser.add_argument(
            "--skip-duplicates",
            action="store_true",
            help="files already in the study count as done, not as refused",
        )

    def handle(self, *args, **options):
        study = study_from_ref(options["study"])
        directory: Path = options["directory"]
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        mapping = read_participants(options["participants"]) if options["participants"] else {}
        files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        for path in files:
            if path not in videos and (
                options["participants"] is None or path.resolve() != options["participants"].resolve()
            ):
                self.stdout.write(f"skipped   {path.name}: not a video file name")
        unknown = sorted(set(mapping) - {p.name for p in videos})
        for name in unknown:
            self.stderr.write(
                f"warning   {name}: listed in the participants file but not found in {directory}"
            )
        imported = refused = duplicates = 0
        for path in videos:
            try:
                with open(path, "rb") as f:
                    clip = clip_create(
                        study=study, file=f, original_name=path.name, participant_code=mapping.get(path.name)
                    )
            except ValidationFailed as exc:
                if options["skip_duplicates"] and getattr(exc, "duplicate_of", None) is not None:
                    duplicates += 1
                    self.stdout.write(f"present   {path.name}: already clip {exc.duplicate_of.pk}")
                    continue
                refused += 1
                self.stdout.write(self.style.ERROR(f"refused   {path.name}: {exc.message}"))
                continue
            except OSError as exc:
                refused += 1
                self.stdout.write(
                    self.style.ERROR(f"refused   {path.name}: cannot read the file ({exc.strerror})")
                )
                continue
            imported += 1
            who = f", participant {clip.participant.code}" if clip.participant else ""
            self.stdout.write(
                f"imported  {path.name} -> clip {clip.pk} ({clip.duration_s:.1f} s, {clip.width}x{clip.height}, "
                f"{clip.video_codec}{who})"
            )
        summary = f"{len(videos)} video files: {imported} imported, {refused} refused"
        summary += f", {duplicates} already present." if options["skip_duplicates"] else "."
        self.stdout.write(summary)
        if refused:
            raise CommandError(f"{refused} of {len(videos)} files were refused (see above).")
