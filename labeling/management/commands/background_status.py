import json

from django.core.management.base import BaseCommand, CommandError

from labeling.selectors import background_status


class Command(BaseCommand):
    help = (
        "Print whether the Celery worker(s) and beat are alive (their heartbeats: ok, stale or never). "
        "With --require, exit 1 unless each named process is ok (beat's container healthcheck uses it)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--require",
            action="append",
            choices=["worker", "beat"],
            default=[],
            help="fail unless this process is ok (repeatable)",
        )

    def handle(self, *args, require, **options):
        status = background_status()
        self.stdout.write(json.dumps(status, default=str))
        down = [kind for kind in require if status[kind] != "ok"]
        if down:
            raise CommandError(f"not running: {', '.join(f'{kind} ({status[kind]})' for kind in down)}")
