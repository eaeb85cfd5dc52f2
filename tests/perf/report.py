"""Benchmarks write their figures into docs/benchmarks.md, one section per benchmark, replaced on each run."""

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Written by `make bench` (tests/perf/). This machine is shared and noisy, so every figure that matters is a\n"
    "ratio against a baseline measured in the same run; absolute times are given for orientation only.\n"
)


def write_section(name: str, markdown: str) -> None:
    """Replace (or add) the section `name` in docs/benchmarks.md with `markdown`, stamped with date and machine.

    In smoke mode nothing is written (a small run's figures are not the benchmark's)."""
    if SMOKE:
        return
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    stamp = f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, Python {platform.python_version()}._"
    block = f"<!-- {name}:start -->\n{markdown.strip()}\n\n{stamp}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    BENCHMARKS_MD.write_text(text)


# Smoke mode (BENCH_SMOKE=1, CI): every benchmark runs at a small size and still asserts its integrity checks,
# but not its performance targets, and writes nothing to docs/benchmarks.md.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def smoke_or(full, small):
    """`small` in smoke mode, else `full`."""
    return small if SMOKE else full


def check_target(ok: bool, message: str) -> None:
    """A performance target: asserted at full size, only reported in smoke mode (sizes too small to mean it)."""
    if SMOKE:
        if not ok:
            print(f"SMOKE MODE: performance target not asserted: {message}")
        return
    assert ok, message
