"""Every published worked example in ../shared/reference/agreement_examples.json: `expected` to 3 decimals,
`exact` to 1e-9."""

import pytest

from labeling.agreement import (
    ccc,
    cohen_kappa,
    cronbach_alpha,
    fleiss_kappa,
    fleiss_kappa_per_category,
    icc,
    krippendorff_alpha,
)

from . import helpers
from .helpers import as_array, load_examples

EXAMPLES = load_examples()


def close3(value: float, published: float) -> bool:
    """Matches a value published to 3 decimals (rounds to it)."""
    return abs(value - published) <= 0.0005 + 1e-12


def test_the_reference_file_covers_every_measure():
    measures = {e["measure"] for e in EXAMPLES}
    assert measures == {"krippendorff_alpha", "icc", "cronbach_alpha", "fleiss_kappa", "cohen_kappa", "ccc"}
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_published_example(example):
    data = as_array(example["data"])
    measure = example["measure"]
    if measure == "krippendorff_alpha":
        value = krippendorff_alpha(data, example["level"])
    elif measure == "icc":
        result = icc(data)
        for form, published in example["expected"].items():
            got = result[form].value
            assert close3(got, published), (form, got, published)
            assert got == pytest.approx(example["exact"][form], abs=1e-9), form
            assert round(got, 2) == example["published_2dp"][form], form
        assert result.n_units == data.shape[1] and result.n_units_dropped == 0
        return
    elif measure == "cronbach_alpha":
        value = cronbach_alpha(data)
    elif measure == "fleiss_kappa":
        value = fleiss_kappa(data)
        per_category = list(fleiss_kappa_per_category(data).values())
        assert [round(k, 3) for k in per_category] == example["per_category"]
        assert close3(fleiss_kappa(data, exact=True), example["conger_exact_kappa"])
    elif measure == "cohen_kappa":
        value = cohen_kappa(data[0], data[1])
    elif measure == "ccc":
        value = ccc(data[0], data[1])
        assert ccc(data[0], data[1], convention="unbiased") == pytest.approx(
            example["exact_unbiased_n_minus_1"], abs=1e-9
        )
        assert ccc(data[0], data[1], convention="avec") == pytest.approx(
            example["exact_avec_mixed"], abs=1e-9
        )
    else:
        pytest.fail(f"no test for measure {measure!r}")
    assert close3(value, example["expected"]), (value, example["expected"])
    assert value == pytest.approx(example["exact"], abs=1e-9)


def test_the_copy_of_the_reference_file_is_current():
    if not helpers.SHARED_EXAMPLES.exists():
        # A clone on its own has only the copy; nothing to compare it with, so check it is the full file.
        assert len(load_examples()) >= 9
        return
    assert helpers.EXAMPLES.read_bytes() == helpers.SHARED_EXAMPLES.read_bytes()
