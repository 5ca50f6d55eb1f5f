"""Agreement of a method with a reference: RMSE, bias, Bland-Altman limits of agreement, r and slope,
per step and between condition means (issue 19: impact that tracks the runner across speeds and slopes).

Bland & Altman (Lancet 1986): bias = mean difference (method - reference), limits of agreement =
bias +- 1.96 SD of the differences. The slope is the least-squares slope of the method on the reference:
1 means a change in the reference shows as the same change in the method (what a runner-relative risk
rule needs), below 1 that the method compresses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

Values = Sequence[float] | np.ndarray

LOA_Z = 1.96  # limits of agreement: bias +- this x SD of the differences (95 % of them, if normal)


def agreement(estimate: Values, reference: Values) -> dict:
    """n, RMSE, bias, SD of the differences, limits of agreement, Pearson r and slope; {"n": 0} when
    there is nothing finite to compare. r and slope need 3 pairs and some spread."""
    e = np.asarray(estimate, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(e) & np.isfinite(r)
    e, r = e[ok], r[ok]
    if e.size == 0:
        return {"n": 0}
    d = e - r
    sd = float(np.std(d, ddof=1)) if d.size > 1 else 0.0
    # r and slope need a spread well above rounding (identical cadences over windows differ by 1e-14)
    tiny = 1e-9 * (1.0 + float(np.abs(r).mean()))
    spread = e.size > 2 and np.std(e) > tiny and np.std(r) > tiny
    return {
        "n": int(e.size),
        "rmse": float(np.sqrt(np.mean(d * d))),
        "bias": float(d.mean()),
        "sd": sd,
        "loa_low": float(d.mean() - LOA_Z * sd),
        "loa_high": float(d.mean() + LOA_Z * sd),
        "r": float(np.corrcoef(e, r)[0, 1]) if spread else None,
        "slope": float(np.polyfit(r, e, 1)[0]) if spread else None,
        "mean_reference": float(r.mean()),
    }


def condition_means(
    keys: Sequence[Hashable], estimate: Values, reference: Values
) -> dict[Hashable, tuple[int, float, float]]:
    """Per condition key: (pairs, mean estimate, mean reference) over the pairs where both are finite."""
    groups: dict[Hashable, list[tuple[float, float]]] = defaultdict(list)
    for key, e, r in zip(keys, estimate, reference, strict=True):
        if np.isfinite(e) and np.isfinite(r):
            groups[key].append((float(e), float(r)))
    return {
        k: (len(v), float(np.mean([p[0] for p in v])), float(np.mean([p[1] for p in v]))) for k, v in groups.items()
    }


def per_step_and_between_conditions(keys: Sequence[Hashable], estimate: Values, reference: Values) -> dict:
    """`agreement` over the steps, and over the condition means (each condition one point)."""
    means = condition_means(keys, estimate, reference)
    return {
        "steps": agreement(estimate, reference),
        "conditions": agreement([m[1] for m in means.values()], [m[2] for m in means.values()]),
        "n_conditions": len(means),
    }
