"""Generated demo data, never downloaded: synthetic clips and the demo study with its log-ins (study.py,
`manage.py demo`), simulated annotators who rate through the real queue (simulate.py,
`manage.py simulate_annotators`), and some filmed participants' self-reports (self_reports.py). Nothing else
in the platform imports this package."""

from labeling.demo.self_reports import demo_self_reports
from labeling.demo.simulate import clip_stimulus, simulate_annotations
from labeling.demo.study import DEMO_CLIP_PARAMS, demo_refused, demo_setup, render_demo_clip

__all__ = [
    "DEMO_CLIP_PARAMS",
    "clip_stimulus",
    "demo_self_reports",
    "demo_refused",
    "demo_setup",
    "render_demo_clip",
    "simulate_annotations",
]
