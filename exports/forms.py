"""The study page's "new export" form: it only turns the posted fields into the parameters' types; the
parameters themselves are checked by exports.params (through export_start), whose messages are shown beside
the fields they name."""

from __future__ import annotations

from typing import Any

from django import forms

from .params import DEFAULTS, GRID_MAX, GRID_MIN, SEED_MAX, SPLITS

EXTRA_FORMATS = [("csv", "CSV (lists flattened)"), ("jsonl", "JSON Lines")]
# Which field group shows the message of each parameter exports.params may refuse.
GROUP_OF = {
    "formats": "formats",
    "grid": "grid",
    "splits": "splits",
    "split_seed": "splits",
    "include_free_text": "options",
    "include_media": "options",
    "stable_salt": "options",
    "parameters": "form",
}


def _number(minimum, maximum, step="1") -> forms.NumberInput:
    return forms.NumberInput(attrs={"min": minimum, "max": maximum, "step": step, "class": "exp-num"})


class ExportStartForm(forms.Form):
    formats = forms.MultipleChoiceField(
        choices=EXTRA_FORMATS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Also write",
        help_text="Parquet is always written.",
    )
    grid_valence = forms.IntegerField(label="Valence bins", widget=_number(GRID_MIN, GRID_MAX))
    grid_arousal = forms.IntegerField(label="Arousal bins", widget=_number(GRID_MIN, GRID_MAX))
    split_train = forms.FloatField(label="Train", widget=_number(0, 1, "0.01"))
    split_validation = forms.FloatField(label="Validation", widget=_number(0, 1, "0.01"))
    split_test = forms.FloatField(label="Test", widget=_number(0, 1, "0.01"))
    split_seed = forms.IntegerField(label="Seed", widget=_number(0, SEED_MAX))
    include_free_text = forms.BooleanField(
        required=False,
        label="Include free text",
        help_text="Context notes and cannot-judge reasons, as annotators typed them.",
    )
    include_media = forms.BooleanField(
        required=False,
        label="Include media",
        help_text="Copies the clips whose participants consented to sharing.",
    )
    stable_salt = forms.BooleanField(
        required=False,
        label="Stable ids across releases",
        help_text="Off: annotator and participant ids are salted anew for every export.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "formats": [f for f in DEFAULTS["formats"] if f != "parquet"],
                "grid_valence": DEFAULTS["grid"][0],
                "grid_arousal": DEFAULTS["grid"][1],
                **{f"split_{s}": DEFAULTS["splits"][s] for s in SPLITS},
                "split_seed": DEFAULTS["split_seed"],
                **{k: DEFAULTS[k] for k in ("include_free_text", "include_media", "stable_salt")},
            },
        )
        super().__init__(*args, **kwargs)
        self.group_errors: dict[str, list[str]] = {}

    def parameters(self) -> dict[str, Any]:
        """The cleaned fields as export parameters (call after is_valid())."""
        data = self.cleaned_data
        return {
            "formats": list(data["formats"]),
            "grid": [data["grid_valence"], data["grid_arousal"]],
            "splits": {s: data[f"split_{s}"] for s in SPLITS},
            "split_seed": data["split_seed"],
            "include_free_text": data["include_free_text"],
            "include_media": data["include_media"],
            "stable_salt": data["stable_salt"],
        }

    def refused(self, errors: dict[str, str]) -> None:
        """Show what exports.params refused, by field group; mark the group's inputs invalid."""
        for param, message in errors.items():
            group = GROUP_OF.get(param, "form")
            self.group_errors.setdefault(group, []).append(message)
            for name in self.fields:
                if self._group_of_field(name) == group:
                    attrs = self.fields[name].widget.attrs
                    attrs["aria-invalid"] = "true"
                    attrs["aria-describedby"] = " ".join(
                        [f"exp-err-{group}", *([f"{self[name].auto_id}_error"] if self[name].errors else [])]
                    )

    @staticmethod
    def _group_of_field(name: str) -> str:
        if name.startswith("grid_"):
            return "grid"
        if name.startswith("split_"):
            return "splits"
        return "formats" if name == "formats" else "options"
