"""Rating schemes: the instruments a study uses, and the mapping of raw scale values to [-1, 1].

A scheme spec is a JSON object:

    {
      "instrument": "sam" | "slider" | "grid",   # 9-point SAM-style scales, continuous sliders, or a 2-D affect grid
      "points": 9,                               # scale points for "sam" and "grid" (odd, 3..21)
      "ask_confidence": true,                    # per-dimension confidence, 1..confidence_points
      "confidence_points": 5,
      "context_groups": [{"name": "setting", "label": "Setting", "tags": ["home", "street", ...]}, ...],
      "context_note": true                       # free-text note about the context
    }

Raw values: "slider" takes any number in [-1, 1]; "sam" and "grid" take integers 1..points, mapped
linearly so that 1 -> -1, the middle point -> 0 and `points` -> 1. A context tag is "group:tag".
"""

from __future__ import annotations

import math
from typing import Any

from labeling.text import text_problem

INSTRUMENTS = ("sam", "slider", "grid")
DIMENSIONS = ("valence", "arousal")

# What the rating page says about each scale (annotator/views/instrument.py) and the dataset card quotes
# (exports/card.py): the one place for these words, so the card shows what annotators saw.
PROMPTS = {
    "valence": {
        "label": "Valence",
        "question": "How pleasant or unpleasant does the person feel?",
        "low": "unpleasant",
        "high": "pleasant",
    },
    "arousal": {
        "label": "Arousal",
        "question": "How calm or excited does the person feel?",
        "low": "calm",
        "high": "excited",
    },
}
MIDDLE = "neutral"  # the label under the middle of a sam or slider scale
CONFIDENCE_ANCHORS = ("guessing", "certain")  # the ends of the confidence scale
# The grid's quadrants, as a reading aid (valence x, arousal y).
GRID_QUADRANTS = {"tl": "tense, upset", "tr": "excited, happy", "bl": "sad, tired", "br": "calm, content"}
GRID_PROMPT = (
    "Click where the person's feeling lies: left–right unpleasant–pleasant, bottom–top calm–excited."
)
# The same scales as the participant sees them on their self-report page (annotator/views/participant.py):
# their own feeling during the clip, not a person they watch. Only the questions and the grid's prompt change.
SELF_REPORT_QUESTIONS = {
    "valence": "How pleasant or unpleasant did you feel at the time of this clip?",
    "arousal": "How calm or excited did you feel at the time of this clip?",
}
SELF_REPORT_GRID_PROMPT = (
    "Click where your feeling at the time lay: left–right unpleasant–pleasant, bottom–top calm–excited."
)
# Preset reasons offered with "I cannot judge this clip" (the annotator may also type one).
CANNOT_JUDGE_REASONS = [
    "Face or body not visible",
    "Clip does not play / poor quality",
    "Too short to tell",
    "Mixed or changing feelings",
]

DEFAULT_CONTEXT_GROUPS = [
    {
        "name": "setting",
        "label": "Setting",
        "tags": ["home", "work or school", "outdoors", "vehicle", "public place", "unclear"],
    },
    {
        "name": "social",
        "label": "Social situation",
        "tags": ["alone", "with one other", "small group", "crowd", "talking to camera", "unclear"],
    },
    {
        "name": "activity",
        "label": "Activity",
        "tags": ["talking", "listening", "eating", "playing", "working", "moving", "resting", "unclear"],
    },
    {
        "name": "before",
        "label": "What happened before",
        "tags": ["nothing visible", "good news", "bad news", "conflict", "surprise", "unclear"],
    },
]

DEFAULT_SPEC: dict[str, Any] = {
    "instrument": "sam",
    "points": 9,
    "ask_confidence": True,
    "confidence_points": 5,
    "context_groups": DEFAULT_CONTEXT_GROUPS,
    "context_note": True,
}


class SchemeError(ValueError):
    """A scheme spec or a rating that does not fit it; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate_spec(spec: Any) -> dict[str, Any]:
    """Return a normalised copy of `spec`, or raise SchemeError saying what is wrong."""
    if not isinstance(spec, dict):
        raise SchemeError({"scheme": "must be a JSON object"})
    out = {**DEFAULT_SPEC, **spec}
    errors: dict[str, str] = {}
    if out["instrument"] not in INSTRUMENTS:
        errors["instrument"] = f"must be one of {', '.join(INSTRUMENTS)}"
    for key, lo, hi in (("points", 3, 21), ("confidence_points", 2, 10)):
        value = out[key]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            errors[key] = f"must be a whole number from {lo} to {hi}"
    if isinstance(out["points"], int) and out["points"] % 2 == 0 and out["instrument"] != "slider":
        errors["points"] = "must be odd, so the scale has a neutral middle"
    for key in ("ask_confidence", "context_note"):
        if not isinstance(out[key], bool):
            errors[key] = "must be true or false"
    groups = out["context_groups"]
    if not isinstance(groups, list):
        errors["context_groups"] = "must be a list of {name, label, tags}"
    else:
        names = set()
        for i, group in enumerate(groups):
            if (
                not isinstance(group, dict)
                or not isinstance(group.get("name"), str)
                or not group["name"].strip()
                or ":" in group["name"]
                or not isinstance(group.get("tags"), list)
                or not all(isinstance(t, str) and t.strip() for t in group["tags"])
            ):
                errors["context_groups"] = f"group {i + 1} needs a name (no ':') and a list of non-empty tags"
                break
            texts = [group["name"], *group["tags"]]
            if "label" in group:
                texts.append(group["label"])
            if not isinstance(group.get("label", ""), str):
                errors["context_groups"] = f"group {i + 1}: the label must be text"
                break
            if bad := next((p for p in map(text_problem, texts) if p), None):
                errors["context_groups"] = f"group {i + 1}: {bad[0].lower()}{bad[1:]}"
                break
            if group["name"] in names:
                errors["context_groups"] = f"group name {group['name']!r} appears twice"
                break
            names.add(group["name"])
            group.setdefault("label", group["name"].replace("_", " ").capitalize())
    unknown = set(spec) - set(DEFAULT_SPEC)
    if unknown:
        errors["scheme"] = f"unknown keys: {', '.join(sorted(unknown))}"
    if errors:
        raise SchemeError(errors)
    return out


def allowed_tags(spec: dict[str, Any]) -> set[str]:
    return {f"{g['name']}:{t}" for g in spec["context_groups"] for t in g["tags"]}


def raw_range(spec: dict[str, Any]) -> tuple[float, float]:
    return (-1.0, 1.0) if spec["instrument"] == "slider" else (1.0, float(spec["points"]))


def to_canonical(spec: dict[str, Any], raw: float) -> float:
    """Map a raw scale value onto [-1, 1] (linear; the scale's middle is 0)."""
    if spec["instrument"] == "slider":
        return float(raw)
    return -1.0 + 2.0 * (float(raw) - 1.0) / (spec["points"] - 1)


def parse_number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def instrument_scale(instrument: Any, points: Any = None) -> dict[str, Any]:
    """The scale of a named instrument rated outside a study's scheme (an imported self-report): a spec with
    what raw_range, check_raw and to_canonical read, checked by the rules a scheme's scale follows (sam and
    grid: `points` odd, 3..21; a slider: no points). Raises SchemeError naming the bad key."""
    if instrument not in INSTRUMENTS:
        raise SchemeError({"instrument": f"must be one of {', '.join(INSTRUMENTS)}"})
    if instrument == "slider":
        if points is not None:
            raise SchemeError({"points": "a slider has no points: leave it empty"})
        return {"instrument": instrument, "points": None}
    spec = validate_spec({"instrument": instrument, "points": points})
    return {"instrument": instrument, "points": spec["points"]}


def scale_name(spec: dict[str, Any]) -> str:
    """How a message names the scale of `spec` outside a study ("a 9-point sam scale", "the slider")."""
    return (
        "the slider"
        if spec["instrument"] == "slider"
        else f"a {spec['points']}-point {spec['instrument']} scale"
    )


def check_raw(
    spec: dict[str, Any], value: Any, *, scale: str = "this study's scale"
) -> tuple[float | None, str | None]:
    """(raw value, None) when `value` fits the instrument's scale, else (None, message); `scale` names the
    scale in the message."""
    number = parse_number(value)
    lo, hi = raw_range(spec)
    if number is None:
        return None, "must be a number"
    if not lo <= number <= hi:
        return None, f"must be between {lo:g} and {hi:g} on {scale}"
    if spec["instrument"] != "slider" and number != int(number):
        return None, f"must be a whole scale point from {lo:g} to {hi:g}"
    return number, None
