import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.errors import ServiceError, ValidationFailed
from labeling.management import study_from_ref
from labeling.models import Participant
from labeling.services import (
    clip_create,
    clip_inactive_reason,
    consent_fields_clean,
    participant_create,
    participant_update,
)

VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".ogv", ".ogg", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp",
}  # fmt: skip


# Optional consent columns of the participants file (labeling.services.participants checks the values).
SCOPE_COLUMNS = (
    "consent_annotation",
    "consent_labels_export",
    "consent_media_sharing",
    "consent_self_reports_export",
)
CONSENT_COLUMNS = ("consent_version", "consent_date", *SCOPE_COLUMNS, "age_band", "gender")
YES, NO = {"yes", "true", "1", "y"}, {"no", "false", "0", "n"}


@dataclass
class ParticipantsFile:
    """What a participants file says: filename -> participant code, and for each code the consent fields
    its rows gave (empty cells give nothing)."""

    files: dict[str, str] = field(default_factory=dict)
    consent: dict[str, dict] = field(default_factory=dict)


def _consent_cells(row: dict, columns: dict[str, str], line: int, problems: list[str]) -> dict:
    """The row's non-empty consent cells as service values (booleans parsed; the rest checked by
    consent_fields_clean), each problem appended to `problems` with the line."""
    fields: dict = {}
    for name, header in columns.items():
        cell = (row.get(header) or "").strip()
        if not cell:
            continue
        if name in SCOPE_COLUMNS:
            word = cell.lower()
            if word in YES | NO:
                fields[name] = word in YES
            else:
                problems.append(f"line {line}: {name} must be yes/no/true/false/1/0, not {cell[:20]!r}")
        else:
            fields[name] = cell
    try:
        consent_fields_clean(fields)
    except ValidationFailed as exc:
        for name, problem in exc.errors.items():
            problems.append(f"line {line}: {name} {problem}")
            fields.pop(name, None)
    return fields


def read_participants(path: Path) -> ParticipantsFile:
    """A CSV with a header row: `filename`, `participant` (code), and optionally the consent columns
    (CONSENT_COLUMNS). Every problem of the file is listed in one CommandError; nothing is written here."""
    result = ParticipantsFile()
    problems: list[str] = []
    given_on: dict[tuple[str, str], int] = {}  # (code, column) -> the line that gave it
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
            columns = {name: fields[name] for name in CONSENT_COLUMNS if name in fields}
            for line, row in enumerate(reader, start=2):
                name, code = (row.get(file_col) or "").strip(), (row.get(code_col) or "").strip()
                if not name or not code:
                    problems.append(f"line {line}: both a filename and a participant code are needed.")
                    continue
                if name in result.files and result.files[name] != code:
                    problems.append(f"line {line}: {name} is given two participants.")
                    continue
                if len(code) > 64:
                    problems.append(f"line {line}: participant codes have at most 64 characters.")
                    continue
                result.files[name] = code
                consent = result.consent.setdefault(code, {})
                for column, value in _consent_cells(row, columns, line, problems).items():
                    if column not in consent:
                        consent[column] = value
                        given_on[(code, column)] = line
                    elif consent[column] != value:
                        problems.append(
                            f"line {line}: participant {code} is given a different {column} than on line "
                            f"{given_on[(code, column)]}."
                        )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from exc
    if problems:
        raise CommandError(
            f"{path}: nothing was imported; fix these and run again:\n  " + "\n  ".join(problems)
        )
    result.consent = {code: given for code, given in result.consent.items() if given}
    return result


class Command(BaseCommand):
    help = "Import every video file in DIR into a study; each file is validated like an upload."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug or id")
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--participants",
            type=Path,
            help="CSV with columns filename, participant (code) and optionally consent_version, consent_date, "
            "consent_annotation, consent_labels_export, consent_media_sharing, consent_self_reports_export "
            "(yes/no/true/false/1/0), age_band, gender",
        )
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
        given = read_participants(options["participants"]) if options["participants"] else ParticipantsFile()
        mapping = given.files
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
        self._update_consent(study, given)
        new_codes = {code for code in given.consent if code not in self.existing}
        imported = refused = duplicates = 0
        for path in videos:
            code = mapping.get(path.name)
            created = None
            try:
                if code in new_codes:  # added with the consent the file gives, with their first clip
                    created = participant_create(study=study, code=code, **given.consent[code])
                    new_codes.discard(code)
                with open(path, "rb") as f:
                    clip = clip_create(
                        study=study,
                        file=f,
                        original_name=path.name,
                        participant=created,
                        participant_code=code,
                    )
            except ValidationFailed as exc:
                if created is not None:  # a refused file leaves no participant behind
                    self._forget(created)
                    new_codes.add(code)
                if options["skip_duplicates"] and getattr(exc, "duplicate_of", None) is not None:
                    duplicates += 1
                    self.stdout.write(f"present   {path.name}: already clip {exc.duplicate_of.pk}")
                    continue
                refused += 1
                self.stdout.write(self.style.ERROR(f"refused   {path.name}: {exc.message}"))
                continue
            except OSError as exc:
                if created is not None:
                    self._forget(created)
                    new_codes.add(code)
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
            if reason := clip_inactive_reason(clip):
                self.stdout.write(f"          {reason}")
        summary = f"{len(videos)} video files: {imported} imported, {refused} refused"
        summary += f", {duplicates} already present." if options["skip_duplicates"] else "."
        self.stdout.write(summary)
        if refused:
            raise CommandError(f"{refused} of {len(videos)} files were refused (see above).")

    def _update_consent(self, study, given: ParticipantsFile) -> None:
        """Participants already in the study get the consent the file gives (each scope changed is logged);
        new ones are added with their first clip (handle)."""
        existing = {p.code: p for p in Participant.objects.filter(study=study, code__in=list(given.consent))}
        self.existing = set(existing)
        for code, participant in sorted(existing.items()):
            try:
                change = participant_update(
                    participant=participant, by=None, fields=given.consent[code], note="import_clips"
                )
            except ServiceError as exc:  # checked when the file was read; a race is still said plainly
                raise CommandError(f"participant {code}: {exc.message}") from None
            if change.taken_away or change.given_back:
                what = ", ".join(
                    [f"{scope} taken away" for scope in change.taken_away]
                    + [f"{scope} given back" for scope in change.given_back]
                )
                self.stdout.write(f"consent   participant {code}: {what} (logged)")
            for notice in change.notices:
                self.stdout.write(f"          {notice}")

    @staticmethod
    def _forget(participant: Participant) -> None:
        """Remove a participant this run added, when their first file was refused (nothing refers to them)."""
        Participant.objects.filter(pk=participant.pk, clips__isnull=True).delete()
