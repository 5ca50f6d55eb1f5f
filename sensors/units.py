"""Unit constants, each defined once with its unit; every package may import this module.

A leaf: it imports nothing of the project (nor numpy), so `analytics` may take it alongside
`sensors.types` without reaching into `sensors` (tests/test_import_direction.py allows exactly these
two), and the peer runners in .venv-peers, which run without StrideGuard's dependencies, can use it too.
The sample units themselves (g, deg/s, int ns) are documented in `sensors.types`.
"""

import math

NS_PER_S = 1_000_000_000  # ns per second (int: times are int64 ns)
NS_PER_MIN = 60 * NS_PER_S  # ns per minute
NS_PER_DAY = 86_400 * NS_PER_S  # ns per day
MS_PER_S = 1000.0  # ms per second
CM_PER_M = 100.0  # cm per m
STANDARD_GRAVITY_MPS2 = 9.80665  # m/s^2 per g (standard gravity, exact by definition)
DEG_PER_RAD = 180.0 / math.pi  # deg per rad
