"""Shaping an AgreementReport's result (plain dicts) into rows for the page's plots and tables."""

from __future__ import annotations

from .charts import accumulation_plot, mean_r, reliability_plot, scatter_va
from .svg import SERIES, finite


def clip_points(dimensions: dict) -> list[dict]:
    """One point per clip rated on both dimensions: {"clip", "name", "n", "valence", "valence_sd", ...}."""
    arousal = {c["clip"]: c for c in (dimensions.get("arousal") or {}).get("clips") or []}
    out = []
    for v in (dimensions.get("valence") or {}).get("clips") or []:
        a = arousal.get(v["clip"])
        if a is not None:
            out.append(
                {
                    "clip": v["clip"],
                    "name": v.get("name", ""),
                    "n": max(v.get("n") or 0, a.get("n") or 0),
                    "valence": v.get("mean"),
                    "valence_sd": v.get("sd"),
                    "arousal": a.get("mean"),
                    "arousal_sd": a.get("sd"),
                }
            )
    return out


def annotator_rows(dimensions: dict) -> list[dict]:
    """Per annotator, both dimensions side by side; `<dim>_flag` when α rises without them."""
    rows: dict = {}
    for dim in SERIES:
        block = dimensions.get(dim) or {}
        overall = (block.get("alpha_interval") or {}).get("estimate")
        for a in block.get("annotators") or []:
            row = rows.setdefault(
                a["annotator"], {"annotator": a["annotator"], "username": a.get("username", ""), "n": 0}
            )
            row["n"] = max(row["n"], a.get("n_units") or 0)
            row[f"{dim}_r"], row[f"{dim}_alpha_without"] = a.get("r_loo"), a.get("alpha_without")
            row[f"{dim}_flag"] = (
                finite(overall) and finite(a.get("alpha_without")) and a["alpha_without"] > overall
            )
            row[f"{dim}_alpha"] = overall
    return sorted(rows.values(), key=lambda r: (mean_r(r), r["n"]))


def low_agreement_rows(dimensions: dict, limit: int = 25) -> list[dict]:
    """Clips on either dimension's low-agreement list, with both sds, widest spread first."""
    sd = {
        dim: {c["clip"]: c.get("sd") for c in (dimensions.get(dim) or {}).get("clips") or []}
        for dim in SERIES
    }
    rows: dict = {}
    for dim in SERIES:
        for c in (dimensions.get(dim) or {}).get("low_agreement") or []:
            row = rows.setdefault(
                c["clip"], {"clip": c["clip"], "name": c.get("name", ""), "n": c.get("n"), "flags": []}
            )
            row["flags"].append(dim)
    for row in rows.values():
        for dim in SERIES:
            row[f"{dim}_sd"] = sd[dim].get(row["clip"])
        row["max_sd"] = max((row[f"{d}_sd"] for d in SERIES if finite(row[f"{d}_sd"])), default=0.0)
    return sorted(rows.values(), key=lambda r: -r["max_sd"])[:limit]


def tag_rows(tags: dict | None) -> list[dict]:
    """Per-tag α, highest first (undefined α last), with a bar width in percent for α in [0, 1]."""
    out = []
    for tag, row in ((tags or {}).get("per_tag") or {}).items():
        alpha = row.get("alpha")
        group, _, label = tag.partition(":")
        out.append(
            {
                "tag": tag,
                "group": group if label else "",
                "label": label or tag,
                "alpha": alpha,
                "n_present": row.get("n_present", 0),
                "n_ratings": row.get("n_ratings", 0),
                "bar": max(0.0, min(1.0, alpha)) * 100 if finite(alpha) else 0.0,
            }
        )
    return sorted(
        out, key=lambda r: (not finite(r["alpha"]), -(r["alpha"] if finite(r["alpha"]) else 0), r["tag"])
    )


HIGHLIGHT_SHARE = 0.2
ICC_ORDER = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")
ALPHA_ROWS = (
    ("alpha_interval", "Krippendorff's α, interval"),
    ("alpha_ordinal", "Krippendorff's α, ordinal"),
)


def alpha_rows(dimensions: dict) -> list[dict]:
    """α (interval, ordinal) with the bootstrap interval: one row per level, `cells` one per dimension."""
    return [
        {
            "key": key,
            "label": label,
            "cells": [{"dimension": d, **((dimensions.get(d) or {}).get(key) or {})} for d in SERIES],
        }
        for key, label in ALPHA_ROWS
    ]


def icc_rows(dimensions: dict) -> list[dict]:
    """The six ICC forms (Shrout & Fleiss order) with the McGraw & Wong name, one cell per dimension."""
    forms = {d: ((dimensions.get(d) or {}).get("icc") or {}).get("forms") or {} for d in SERIES}
    names = [f for f in ICC_ORDER if any(f in forms[d] for d in SERIES)]
    names += sorted({f for d in SERIES for f in forms[d]} - set(names))
    rows = []
    for name in names:
        any_form = next(forms[d][name] for d in SERIES if name in forms[d])
        kind = ", ".join(str(any_form[k]) for k in ("model", "type", "unit") if any_form.get(k))
        cells = [{"dimension": d, **(forms[d].get(name) or {})} for d in SERIES]
        recommended = any(
            name in ((dimensions.get(d) or {}).get("icc") or {}).get("recommended", []) for d in SERIES
        )
        rows.append({"form": name, "mcgraw_wong": any_form.get("mcgraw_wong", ""), "kind": kind, "cells": cells,
                     "recommended": recommended})  # fmt: skip
    return rows


def report_figures(result: dict) -> dict:
    """Everything the agreement section draws from a report's result: SVG strings and table rows."""
    dims = result.get("dimensions") or {}
    low = low_agreement_rows(dims)
    points = clip_points(dims)
    for row in low:
        row["highlight"] = False
    threshold = (result.get("policy") or {}).get("threshold_sd")
    if finite(threshold):  # the study's K+1 policy says what "too much spread" is
        hot, rule = [r for r in low if r["max_sd"] > threshold], f"sd above {threshold:.2f}"
    else:  # otherwise the widest fifth of the rated clips (the list itself is a top-25 ranking)
        hot, rule = low[: max(1, round(HIGHLIGHT_SHARE * len(points)))], "the widest fifth of the clips"
    for row in hot:
        row["highlight"] = True
    annotators = annotator_rows(dims)
    return {
        "scatter_svg": scatter_va(points, highlight={r["clip"] for r in hot}),
        "highlight_rule": rule,
        "accumulation_svg": accumulation_plot(
            {d: (dims.get(d) or {}).get("accumulation") or [] for d in SERIES}
        ),
        "reliability_svg": reliability_plot(annotators),
        "alpha_rows": alpha_rows(dims),
        "icc_rows": icc_rows(dims),
        "traces": [{"dimension": d, **((dims.get(d) or {}).get("trace_ccc") or {})} for d in SERIES],
        "icc": {
            d: {k: v for k, v in ((dims.get(d) or {}).get("icc") or {}).items() if k != "forms"}
            for d in SERIES
        },
        "low_agreement": low,
        "annotators": annotators,
        "annotators_omitted": next(
            (why for d in SERIES if (why := (dims.get(d) or {}).get("annotators_omitted"))), None
        ),
        "by_scheme_version": version_rows(dims),
        "tags": tag_rows(result.get("tags")),
    }


def version_rows(dims: dict) -> list[dict]:
    """α (interval) within each scheme version, one row per version: {"version", "valence", "arousal"}."""
    rows: dict = {}
    for d in SERIES:
        for row in (dims.get(d) or {}).get("by_scheme_version") or []:
            rows.setdefault(row.get("version"), {"version": row.get("version")})[d] = row.get(
                "alpha_interval"
            )
    return list(rows.values())
