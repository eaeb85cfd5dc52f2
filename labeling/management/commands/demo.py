from django.core.management.base import BaseCommand, CommandError
from django.urls import NoReverseMatch, reverse

from labeling.demo.study import (
    ANNOTATOR_LOGINS,
    PRODUCTION_REFUSAL,
    RESEARCHER_LOGIN,
    demo_refused,
    demo_setup,
)


class Command(BaseCommand):
    help = (
        "Create the demo study: a dozen generated clips, demo log-ins, simulated ratings and some filmed "
        "participants' self-reports. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-simulate", action="store_true", help="do not add simulated ratings")

    def handle(self, *args, **options):
        if demo_refused():
            raise CommandError(PRODUCTION_REFUSAL)
        result = demo_setup(simulate=not options["no_simulate"])
        study = result.study
        if result.created or result.clips_added or result.simulated or result.self_reports_added:
            made = ", ".join(result.created) or "nothing new"
            self.stdout.write(f"Created: {made}; {result.clips_added} clips generated.")
            if result.simulated:
                sim = result.simulated
                self.stdout.write(
                    f"Simulated {sim.annotations} ratings by {len(sim.annotators)} annotators "
                    f"({sim.cannot_judge} cannot judge)."
                )
            if result.self_reports_added:
                self.stdout.write(
                    f"Generated {result.self_reports_added} self-reports of filmed participants (as imported)."
                )
        else:
            self.stdout.write("The demo is already set up; nothing changed.")
        n_clips = study.clips.count()
        n_ratings = study.annotations.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo study “{study.title}” (slug {study.slug!r}, id {study.pk}): {n_clips} clips, "
                f"{n_ratings} ratings, K={study.overlap_k}."
            )
        )
        self.stdout.write("Log in at /login/ with:")
        self.stdout.write(
            f"  researcher (superuser): {RESEARCHER_LOGIN[0]} / {RESEARCHER_LOGIN[1]}   study page: "
            f"{self._study_url(study)}"
        )
        for username, password in ANNOTATOR_LOGINS:
            self.stdout.write(f"  annotator:              {username} / {password}")
        self.stdout.write(
            f"Crowd link (Prolific style): /crowd/{study.slug}/?key={study.crowd_key}"
            "&PROLIFIC_PID=P123&STUDY_ID=S1&SESSION_ID=X1"
        )

    @staticmethod
    def _study_url(study) -> str:
        try:
            return reverse("study-detail", args=[study.pk])
        except NoReverseMatch:
            return f"/studies/{study.pk}/"
