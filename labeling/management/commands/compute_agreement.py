import json

from django.core.management.base import BaseCommand, CommandError

from labeling.management import study_from_ref
from labeling.models import AgreementReport, Study
from labeling.services import agreement_run_now


def fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_p(value) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def interval(ci: dict) -> str:
    return f"{fmt(ci['estimate'])} [{fmt(ci['low'])}, {fmt(ci['high'])}]"


class Command(BaseCommand):
    help = (
        "Compute a study's inter-rater agreement report now, in this process (the same service the Celery "
        "task runs), store it, and print it. STUDY is the study's slug or id."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="slug or id of the study")
        parser.add_argument("--json", action="store_true", help="print the report's JSON instead")
        parser.add_argument(
            "--resamples", type=int, default=None, help="bootstrap resamples (default 1000, as the task)"
        )

    def handle(self, *args, **options):
        study = study_from_ref(options["study"])
        if options["resamples"] is not None and options["resamples"] < 1:
            raise CommandError("--resamples must be at least 1.")
        report = agreement_run_now(study=study, n_resamples=options["resamples"])
        if report.status != AgreementReport.Status.DONE:
            raise CommandError(
                f"Report #{report.pk} is {report.status}: {report.error or report.progress_message}"
            )
        if options["json"]:
            self.stdout.write(json.dumps(report.result, indent=2))
            return
        self.print_report(study, report)

    def print_report(self, study: Study, report: AgreementReport) -> None:
        out, r = self.stdout.write, report.result
        mark = r["watermark"]
        out(self.style.MIGRATE_HEADING(f"Agreement — {study.title} (slug {study.slug!r}, id {study.pk})"))
        out(
            f"Report #{report.pk}, computed in {report.duration_s:.2f} s from {mark['annotation_count']} "
            f"annotations (last id {mark['last_annotation_id']}): {r['n_clips_rated']} of {r['n_clips']} clips "
            f"rated, {r['n_annotators']} annotators, {r['n_cannot_judge']} 'cannot judge'."
        )
        boot = r["bootstrap"]
        out(
            f"CIs: {boot['confidence']:.0%} percentile bootstrap, {boot['n_resamples']} resamples of whole "
            f"clips, seed {boot['seed']}. Ratings on the canonical scale -1..1."
        )
        for dim, d in r["dimensions"].items():
            out("")
            out(
                self.style.MIGRATE_HEADING(
                    f"{dim.upper()}: {d['n_ratings']} ratings, {d['n_pairable_clips']} clips with 2+ ratings"
                )
            )
            out(f"  Krippendorff's alpha  interval {interval(d['alpha_interval'])}")
            out(f"                        ordinal  {interval(d['alpha_ordinal'])}")
            self.print_icc(d["icc"])
            self.print_low(d["low_agreement"])
            self.print_annotators(d["annotators"])
        tags = r["tags"]
        out("")
        out(self.style.MIGRATE_HEADING("CONTEXT TAGS"))
        sets = tags["set_alpha"]
        out(f"  set alpha: MASI {fmt(sets['masi'])}, Jaccard {fmt(sets['jaccard'])}")
        used = {t: v for t, v in tags["per_tag"].items() if v["n_present"]}
        for tag, v in sorted(used.items(), key=lambda kv: -kv[1]["n_present"]):
            out(f"  {tag:<36} alpha {fmt(v['alpha']):>6}   used {v['n_present']} of {v['n_ratings']}")
        policy = r["policy"]
        if policy["threshold_sd"] is not None:
            out("")
            out(
                f"K+1 policy: sd > {policy['threshold_sd']} gets one more annotator (cap {policy['cap_k']}): "
                f"{len(policy['clips_extended'])} clips extended."
            )

    def print_icc(self, icc: dict) -> None:
        out = self.stdout.write
        out(f"  ICC ({icc.get('layout') or 'not computed'}): {icc['policy']}")
        if not icc["forms"]:
            return
        out(
            f"    {icc['n_units']} clips used, {icc['n_units_dropped']} left out, {icc['n_raters']} raters; "
            f"read {', '.join(icc['recommended'])}"
        )
        out(f"    {'form':<9} {'M&W':<9} {'value':>6}  {'95% CI':<16} {'F':>7} {'df1':>6} {'df2':>6}  p")
        for name, f in icc["forms"].items():
            ci = f"[{fmt(f['ci_low'])}, {fmt(f['ci_high'])}]"
            out(
                f"    {name:<9} {f['mcgraw_wong']:<9} {fmt(f['value']):>6}  {ci:<16} {fmt(f['f'], 2):>7} "
                f"{f['df1']:>6} {f['df2']:>6}  {fmt_p(f['p_value'])}"
            )

    def print_low(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.stdout.write("  Lowest agreement (highest sd):")
        for row in rows[:10]:
            self.stdout.write(
                f"    {row['name'] or row['clip']:<40} clip {row['clip']:<8} n {row['n']:<3} sd {fmt(row['sd'])}"
            )

    def print_annotators(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.stdout.write(f"  {'annotator':<28} {'ratings':>7} {'r_loo':>7} {'alpha without':>14}")
        for row in rows:
            self.stdout.write(
                f"  {row['username'][:28]:<28} {row['n_units']:>7} {fmt(row['r_loo']):>7} "
                f"{fmt(row['alpha_without']):>14}"
            )
