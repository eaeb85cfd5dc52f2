"""Shaping an AgreementReport's result (plain dicts) into rows for the page's plots and tables."""

from __future__ import annotations

from .charts import mean_r
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
