"""Inter-rater agreement statistics: plain functions over numpy arrays (numpy and scipy only, no Django).

Ratings are a raters × units array (rows = annotators, columns = units such as clips; nan = missing) unless
a function says otherwise. Every function cites the source of its formula in its docstring, raises
ValueError with a plain message for bad input (wrong shape, fewer than 2 raters, nothing pairable), and
returns nan where a statistic is undefined for valid input (e.g. α when no rating varies).

Missing ratings: α (all levels, tags), Fleiss' κ, the reliability table and the trace functions use every
rating there is; ICC and Cronbach's α drop units with any missing rating (listwise, n used is reported);
Cohen's κ and CCC drop positions where either value is missing.

Options are typed as literals, named as the libraries researchers use name them (`Level` as in the
`krippendorff` package and R's irr, `ICCFormName` as Shrout & Fleiss 1979); every public function has a
worked example in its docstring, run by tests/labeling/agreement/test_doctests.py. `json_safe` turns any
result into plain JSON (nan -> None), as every result's ``as_dict()`` does.
"""

# Importing this package loads numpy only: the modules that need scipy (icc, traces, bootstrap's α) import it
# inside the functions that use it, so a web page that computes a clip's figures does not pay scipy's ~65 MB
# (tests/test_import_rules.py).
from ._checks import Level
from ._json import json_safe
from .alpha import krippendorff_alpha
from .bootstrap import BootstrapCI, alpha_bootstrap, bootstrap_ci
from .ccc import CCCConvention, ccc
from .icc import ICCForm, ICCFormName, ICCResult, cronbach_alpha, icc
from .kappa import KappaWeights, cohen_kappa, fleiss_kappa, fleiss_kappa_per_category
from .perceived import (
    ObserverSummary,
    SelfObserverAgreement,
    observer_summary,
    outside_observers,
    self_observer_agreement,
)
from .reliability import AnnotatorReliability, annotator_reliability
from .self_reports import self_report_gap, self_report_per_clip
from .tags import SetDistance, TagAlpha, per_tag_alpha, set_alpha
from .traces import EWE, TraceAgreement, estimate_lags, ewe, lag_corrected_ccc, shift_traces

__all__ = [
    "EWE",
    "AnnotatorReliability",
    "BootstrapCI",
    "CCCConvention",
    "ICCForm",
    "ICCFormName",
    "ICCResult",
    "KappaWeights",
    "ObserverSummary",
    "SelfObserverAgreement",
    "Level",
    "SetDistance",
    "TagAlpha",
    "TraceAgreement",
    "alpha_bootstrap",
    "annotator_reliability",
    "bootstrap_ci",
    "ccc",
    "cohen_kappa",
    "cronbach_alpha",
    "estimate_lags",
    "ewe",
    "fleiss_kappa",
    "fleiss_kappa_per_category",
    "icc",
    "json_safe",
    "krippendorff_alpha",
    "lag_corrected_ccc",
    "observer_summary",
    "outside_observers",
    "per_tag_alpha",
    "self_observer_agreement",
    "self_report_gap",
    "self_report_per_clip",
    "set_alpha",
    "shift_traces",
]
