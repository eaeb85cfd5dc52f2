from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from labeling.demo.simulate import simulate_annotations
from labeling.management import study_from_ref


class Command(BaseCommand):
    help = "Add simulated annotators (individual bias and noise) who rate clips of a study through the real queue."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug or id")
        parser.add_argument("--annotators", type=int, required=True, help="how many new simulated annotators")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-per-annotator", type=int, default=None, help="clips each rates at most")

    def handle(self, *args, **options):
        study = study_from_ref(options["study"])
        if options["annotators"] < 1:
            raise CommandError("--annotators must be at least 1.")
        if options["max_per_annotator"] is not None and options["max_per_annotator"] < 1:
            raise CommandError("--max-per-annotator must be at least 1.")
        result = simulate_annotations(
            study=study,
            n_annotators=options["annotators"],
            seed=options["seed"],
            max_per_annotator=options["max_per_annotator"],
        )
        self.stdout.write(
            f"{len(result.annotators)} simulated annotators ({', '.join(result.annotators)}) added "
            f"{result.annotations} ratings to {study.slug!r} ({result.cannot_judge} cannot judge)."
        )
        coverage = dict(
            study.clips.filter(is_active=True).values_list("n_submitted").annotate(n=Count("id")).order_by()
        )
        parts = ", ".join(f"{coverage[k]} with {k}" for k in sorted(coverage))
        self.stdout.write(f"Clips by number of ratings: {parts or 'no clips'} (K={study.overlap_k}).")
