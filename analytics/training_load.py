"""Training load across sessions: the single-run spike, the weekly change, the acute:chronic ratio.

Pure functions over a list of runs (start time, duration, distance when known). The evidence
(EVIDENCE.md): a single run more than 10 % longer than the longest run of the previous 30 days raised
the injury hazard (10-30 %: about 1.6x, over 100 %: about 2.3x; Frandsen 2025 Br J Sports Med; Nielsen
2014), while the "10 % per week" rule itself showed no effect (Buist 2008) and the acute:chronic ratio
is disputed (Impellizzeri 2020 Sports Med): the weekly change and the ratio are shown for context, with
that caveat, and never flagged.

Distance is the measure when every run in view has one, else duration (minutes), so that runs without
speed data are still compared like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strideguard.analytics.consts import NS_PER_DAY

DAY_NS = NS_PER_DAY  # ns per day, under the name the report and its tests import

SPIKE_WINDOW_DAYS = 30  # Frandsen 2025: against the longest run of the previous 30 days
SPIKE_LIMIT_PCT = 10.0  # Frandsen 2025: > 10 % longer is associated with a higher injury hazard
ACWR_CAVEAT = (
    "shown for context only: the acute:chronic workload ratio is disputed as an injury predictor "
    "(Impellizzeri 2020 Sports Med)"
)
WEEKLY_CAVEAT = "the '10 % per week' rule itself showed no effect on injuries (Buist 2008)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One run: when it started, how long it lasted, how far (None when unknown)."""

    start_t_ns: int
    duration_s: float
    distance_m: float | None = None
    session_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeCheck:
    run_amount: float
    longest_amount: float | None  # None: no run in the previous 30 days
    unit: str  # km | min
    change_pct: float | None
    flagged: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekLoad:
    end_t_ns: int
    amount: float
    change_pct: float | None  # vs the week before; None when that week was empty


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadReport:
    unit: str
    spike: SpikeCheck | None
    weeks: tuple[WeekLoad, ...]  # oldest first, the last one ends at the report time
    acute_chronic_ratio: float | None
    acwr_caveat: str = ACWR_CAVEAT
    weekly_caveat: str = WEEKLY_CAVEAT


def measure(runs: Sequence[RunRecord]) -> str:
    """'km' when every run has a distance, else 'min'."""
    return "km" if runs and all(r.distance_m is not None for r in runs) else "min"


def amount(run: RunRecord, unit: str) -> float:
    if unit == "km":
        if run.distance_m is None:
            raise ValueError("distance unknown")
        return run.distance_m / 1000.0
    return run.duration_s / 60.0


def spike_check(
    run: RunRecord,
    history: Sequence[RunRecord],
    *,
    window_days: float = SPIKE_WINDOW_DAYS,
    limit_pct: float = SPIKE_LIMIT_PCT,
) -> SpikeCheck:
    """This run against the longest run of the `window_days` before it."""
    earlier = [r for r in history if run.start_t_ns - window_days * DAY_NS <= r.start_t_ns < run.start_t_ns]
    unit = measure([run, *earlier])
    this = amount(run, unit)
    if not earlier:
        return SpikeCheck(
            run_amount=this,
            longest_amount=None,
            unit=unit,
            change_pct=None,
            flagged=False,
            message=f"This run: {this:.1f} {unit}. No run in the previous {window_days:g} days to "
            "compare with; build distance gradually.",
        )
    longest = max(amount(r, unit) for r in earlier)
    change = (this - longest) / longest * 100.0 if longest > 0 else None
    flagged = change is not None and change > limit_pct
    if flagged and change is not None:  # flagged implies a change; the check narrows its type
        hazard = "about 2.3x" if change > 100 else ("about 1.6x" if change <= 30 else "higher")
        message = (
            f"This run ({this:.1f} {unit}) was {change:.0f} % longer than your longest in the previous "
            f"{window_days:g} days ({longest:.1f} {unit}). Spikes like this are associated with a "
            f"{hazard} injury hazard (Frandsen 2025): build distance gradually."
        )
    else:
        message = (
            f"This run ({this:.1f} {unit}) is within {limit_pct:g} % of your longest in the previous "
            f"{window_days:g} days ({longest:.1f} {unit})."
        )
    return SpikeCheck(
        run_amount=this, longest_amount=longest, unit=unit, change_pct=change, flagged=flagged, message=message
    )


def weekly_loads(
    runs: Sequence[RunRecord], *, end_t_ns: int, weeks: int = 4, unit: str | None = None
) -> tuple[WeekLoad, ...]:
    """Totals of the `weeks` 7-day blocks ending at `end_t_ns` (oldest first) with week-to-week change."""
    unit = unit or measure(runs)
    totals = []
    for k in range(weeks, 0, -1):
        lo = end_t_ns - k * 7 * DAY_NS
        hi = lo + 7 * DAY_NS
        totals.append((hi, sum(amount(r, unit) for r in runs if lo < r.start_t_ns <= hi)))
    out = []
    for i, (hi, total) in enumerate(totals):
        prev = totals[i - 1][1] if i > 0 else None
        change = (total - prev) / prev * 100.0 if prev else None
        out.append(WeekLoad(end_t_ns=hi, amount=total, change_pct=change))
    return tuple(out)


def acute_chronic_ratio(runs: Sequence[RunRecord], *, end_t_ns: int, unit: str | None = None) -> float | None:
    """Last 7 days over the weekly mean of the last 28 (coupled); None without load in the 21 days before
    the last 7: with runs in the last week only, the ratio is 4.0 whatever they were (a runner's first
    session showed "Acute:chronic ratio (4.00)" beside "no run in the previous 30 days")."""
    weeks = weekly_loads(runs, end_t_ns=end_t_ns, weeks=4, unit=unit)
    if sum(w.amount for w in weeks[:-1]) <= 0:
        return None
    chronic = sum(w.amount for w in weeks) / 4.0
    return weeks[-1].amount / chronic


def load_report(runs: Sequence[RunRecord], *, latest: RunRecord | None = None) -> LoadReport:
    """The whole picture for the latest run (by default the most recent one in `runs`)."""
    ordered = sorted(runs, key=lambda r: r.start_t_ns)
    if latest is None and ordered:
        latest = ordered[-1]
    if latest is None:
        return LoadReport(unit="min", spike=None, weeks=(), acute_chronic_ratio=None)
    history = [r for r in ordered if r is not latest and r.start_t_ns < latest.start_t_ns]
    unit = measure([latest, *history])
    end = latest.start_t_ns + 1
    return LoadReport(
        unit=unit,
        spike=spike_check(latest, history),
        weeks=weekly_loads([latest, *history], end_t_ns=end, unit=unit),
        acute_chronic_ratio=acute_chronic_ratio([latest, *history], end_t_ns=end, unit=unit),
    )
