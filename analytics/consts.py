"""The unit constants the analytics use, by the names they import them under.

Each is defined once, with its unit, in `sensors.units` (the leaf module every package may import);
this module only re-exports them so analytics code keeps one place to import from.
"""

from __future__ import annotations

from strideguard.sensors.units import CM_PER_M, MS_PER_S, NS_PER_DAY, NS_PER_S, STANDARD_GRAVITY_MPS2

__all__ = ["CM_PER_M", "MS_PER_S", "NS_PER_DAY", "NS_PER_S", "STANDARD_GRAVITY_MPS2"]
