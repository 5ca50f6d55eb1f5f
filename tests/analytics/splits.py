"""How the chunk-invariance tests cut a recording: fixed sizes, one sample at a time, and random splits
whose seed is printed and can be pinned (set STRIDEGUARD_SPLIT_SEED to replay a failure)."""

from __future__ import annotations

import os
import random

SEED_ENV = "STRIDEGUARD_SPLIT_SEED"


def fixed_cuts(n: int, size: int) -> list[int]:
    """Cut points of chunks of `size` samples (the last one shorter)."""
    return list(range(size, n, size))


def random_cuts(n: int, seed: int) -> list[int]:
    """Cut points of a random split: runs of 1-3 samples, tens and thousands mixed."""
    rng = random.Random(seed)
    cuts, i = [], 0
    while i < n:
        i += rng.choice((1, 2, 3, rng.randint(1, 50), rng.randint(1, 2000)))
        cuts.append(i)
    return [c for c in cuts if c < n]


def split_seed() -> int:
    """A fresh seed per call unless pinned by STRIDEGUARD_SPLIT_SEED; printed, so a failure shows it."""
    seed = int(os.environ.get(SEED_ENV, random.SystemRandom().randrange(2**31)))
    print(f"seed {seed} (random split; replay with {SEED_ENV}={seed})")
    return seed
