"""The layout of the UCI "Daily and Sports Activities" recordings as joined in
`uci_dsa_treadmill_running/` (Altun, Barshan & Tuncel 2010; Barshan & Yuksek 2014; CC BY 4.0).

Header `t_s` then five Xsens MTx units x 9 channels `{T,RA,LA,RL,LL}_{x,y,z}{acc,gyro,mag}`:
acceleration in m/s^2, angular rate in rad/s, 25 Hz. T is the torso (chest) unit; its x axis is
vertical. One unit is imported at a time.
"""

from __future__ import annotations

import os

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.result import ImportResult
from strideguard.sensors.imports.samples import Source, build_result
from strideguard.sensors.imports.table import read_columns, read_text, split_header
from strideguard.sensors.types import Placement, StreamMeta

FORMAT = "uci_dsa"
RATE_HZ = 25.0  # Hz, the dataset's sampling rate
UNITS = {"T": Placement.CHEST, "RA": Placement.ARM, "LA": Placement.ARM, "RL": Placement.SHANK, "LL": Placement.SHANK}
ATTRIBUTION = (
    "UCI Daily and Sports Activities (CC BY 4.0): K. Altun, B. Barshan, O. Tuncel, Pattern Recognition "
    "43(10), 2010; B. Barshan, M. C. Yuksek, The Computer Journal 57(11), 2014"
)


def uci_columns(unit: str) -> tuple[str, ...]:
    """t_s then the unit's acc and gyro columns, in the order of a generic CSV."""
    return ("t_s", *(f"{unit}_{axis}acc" for axis in "xyz"), *(f"{unit}_{axis}gyro" for axis in "xyz"))


def looks_like_uci_dsa(header: list[str]) -> bool:
    return set(uci_columns("T")) <= set(header)


def read_uci_dsa(
    path: str | os.PathLike[str],
    *,
    unit: str = "T",
    runner: str | None = None,
    start_t_ns: int = 0,
    strict: bool = True,
) -> ImportResult:
    """ACC (g) and GYRO (deg/s) of one sensor unit ("T" torso by default, or RA, LA, RL, LL).

    `runner` defaults to the file name's first part (p1_a12_... -> "p1"); placement follows the unit
    (T chest, RA/LA arm, RL/LL leg as shank). Times are relative: `start_t_ns` is added.
    """
    path = os.fspath(path)
    if unit not in UNITS:
        raise ImportFormatError(f"unknown sensor unit {unit!r}: use one of {', '.join(UNITS)}", path=path)
    text = read_text(path)
    _, header, _ = split_header(path, text)
    wanted = uci_columns(unit)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ImportFormatError(
            f"missing column(s) {', '.join(missing)} of the UCI Daily and Sports Activities layout", path=path, line=1
        )
    table = read_columns(path, text, {name: header.index(name) for name in wanted})
    stem = os.path.splitext(os.path.basename(path))[0]
    source = Source(
        path=path,
        format=FORMAT,
        runner=runner or stem.split("_")[0],
        device=f"xsens-mtx-{unit}",
        placement=UNITS[unit],
        start_t_ns=start_t_ns,
        meta=StreamMeta(attribution=ATTRIBUTION, sensor_unit=unit),
    )
    return build_result(
        table, source, time_unit="s", acc_unit="m/s2", gyro_unit="rad/s", rate_hz=RATE_HZ, has_gyro=True, strict=strict
    )
