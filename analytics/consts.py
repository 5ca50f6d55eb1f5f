"""Physical and numerical constants the analytics share, each with its unit."""

from __future__ import annotations

STANDARD_GRAVITY_MPS2 = 9.80665  # m/s^2 per g
NS_PER_S = 1_000_000_000  # ns per s
CM_PER_M = 100.0  # cm per m
MS_PER_S = 1000.0  # ms per s
