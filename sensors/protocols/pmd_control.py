"""Polar Measurement Data (PMD) control point: requests to build, responses and settings to parse.

Sans-I/O: `build_*` return the bytes to write to the control point; `PmdControlDecoder.feed` takes each
control-point notification and returns complete events (a multi-packet response is buffered until its
last packet, as h11 buffers a message until it is complete).

Wire format (Polar_Measurement_Data_Specification)::

    request  : op u8 | measurement type u8 | settings...
    response : 0xF0 | op u8 | measurement type u8 | status u8 | more u8 | parameters...
    unsolicited (device-initiated) : 0x01 (online measurement stopped) | measurement type u8...
    settings : repeated [setting type u8][count u8][count values], value size by setting type
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols._reader import ByteReader

PROTOCOL = "pmd-control"
RESPONSE_CODE = 0xF0
ONLINE_MEASUREMENT_STOPPED = 0x01
MAX_RESPONSE_BYTES = 4096  # a multi-packet response longer than this is garbage, not settings

_U16 = struct.Struct("<H")
_F32 = struct.Struct("<f")


class MeasurementType(enum.IntEnum):
    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6


class ControlOp(enum.IntEnum):
    GET_SETTINGS = 1
    START = 2
    STOP = 3


class PmdStatus(enum.IntEnum):
    """Control-point response status codes (0 = success)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13


class SettingType(enum.IntEnum):
    SAMPLE_RATE = 0  # Hz, u16
    RESOLUTION = 1  # bits, u16
    RANGE = 2  # g for ACC, deg/s for GYRO, u16
    RANGE_MILLIUNIT = 3  # u32
    CHANNELS = 4  # u8
    FACTOR = 5  # float32 multiplier from counts to unit


_SETTING_SIZE_BYTES = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdSettings:
    """Available (from get-settings) or selected (in a start request) settings of one measurement."""

    sample_rate_hz: tuple[int, ...] = ()
    resolution_bits: tuple[int, ...] = ()
    range: tuple[int, ...] = ()  # g for ACC, deg/s for GYRO
    range_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factor: tuple[float, ...] = ()


_FIELD_BY_TYPE = {
    SettingType.SAMPLE_RATE: "sample_rate_hz",
    SettingType.RESOLUTION: "resolution_bits",
    SettingType.RANGE: "range",
    SettingType.RANGE_MILLIUNIT: "range_milliunit",
    SettingType.CHANNELS: "channels",
    SettingType.FACTOR: "factor",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdControlResponse:
    """A complete control-point response. `settings` is parsed for get-settings and start responses
    whose parameters are a well-formed settings list (a start response carries the FACTOR)."""

    op: int
    measurement_type: int
    status: int
    parameters: bytes = b""
    settings: PmdSettings | None = None

    @property
    def ok(self) -> bool:
        return self.status == PmdStatus.SUCCESS

    @property
    def status_name(self) -> str:
        try:
            return PmdStatus(self.status).name.lower()
        except ValueError:
            return f"status_{self.status}"

    @property
    def factor(self) -> float:
        """Counts-to-unit multiplier from a start response; 1.0 when the device sends none (H10)."""
        if self.settings is not None and self.settings.factor:
            return self.settings.factor[0]
        return 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementStopped:
    """The device stopped these measurements by itself (charger, low battery, button)."""

    measurement_types: tuple[int, ...]


def parse_settings(data: bytes, *, protocol: str = PROTOCOL) -> PmdSettings:
    """Parse a settings list ([type][count][values]...). Unknown types or a short list raise."""
    return _read_settings(ByteReader(data, protocol=protocol))


def _read_settings(reader: ByteReader) -> PmdSettings:
    """The settings list from `reader`'s offset to the end (errors at offsets of the reader's payload)."""
    found: dict[str, tuple] = {}
    while reader.remaining:
        type_offset = reader.offset
        type_code = reader.u8("setting type")
        try:
            setting = SettingType(type_code)
        except ValueError:
            raise reader.fail(f"unknown setting type {type_code}", offset=type_offset) from None
        count = reader.u8("setting count")
        size = _SETTING_SIZE_BYTES[setting]
        raw = reader.take(size * count, f"{setting.name.lower()} values")
        if setting is SettingType.FACTOR:
            values: tuple = tuple(_F32.unpack_from(raw, i * 4)[0] for i in range(count))
        else:
            values = tuple(int.from_bytes(raw[i * size : (i + 1) * size], "little") for i in range(count))
        found[_FIELD_BY_TYPE[setting]] = found.get(_FIELD_BY_TYPE[setting], ()) + values
    return PmdSettings(**found)


def encode_settings(settings: PmdSettings) -> bytes:
    """Serialise settings (the inverse of `parse_settings`, in setting-type order)."""
    out = bytearray()
    for setting, name in _FIELD_BY_TYPE.items():
        values = getattr(settings, name)
        if not values:
            continue
        out += bytes((setting, len(values)))
        for value in values:
            if setting is SettingType.FACTOR:
                out += _F32.pack(value)
            else:
                out += int(value).to_bytes(_SETTING_SIZE_BYTES[setting], "little")
    return bytes(out)


def build_get_settings(measurement: MeasurementType) -> bytes:
    return bytes((ControlOp.GET_SETTINGS, measurement))


START_SETTING_ORDER = (SettingType.SAMPLE_RATE, SettingType.RESOLUTION, SettingType.RANGE, SettingType.CHANNELS)


def build_start(
    measurement: MeasurementType,
    *,
    sample_rate_hz: int,
    resolution_bits: int = 16,
    range_: int | None = None,
    channels: int | None = None,
    order: tuple[SettingType, ...] = START_SETTING_ORDER,
) -> bytes:
    """Start request with one selected value per setting (H10 ACC: 200 Hz, 16 bit, range 8 g).

    Devices accept the settings in any order; `order` exists because Polar's own examples differ (the
    H10 example in the PMD specification sends range first), so byte-exact tests can reproduce both.
    """
    selected = {
        SettingType.SAMPLE_RATE: sample_rate_hz,
        SettingType.RESOLUTION: resolution_bits,
        SettingType.RANGE: range_,
        SettingType.CHANNELS: channels,
    }
    out = bytearray((ControlOp.START, measurement))
    for setting in order:
        value = selected[setting]
        if value is not None:
            out += bytes((setting, 1)) + int(value).to_bytes(_SETTING_SIZE_BYTES[setting], "little")
    return bytes(out)


def build_stop(measurement: MeasurementType) -> bytes:
    return bytes((ControlOp.STOP, measurement))


def parse_request(payload: bytes) -> tuple[ControlOp, int, PmdSettings]:
    """Parse a request as a device would (used by the simulated H10): (op, measurement, settings)."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    op_code = reader.u8("op code")
    try:
        op = ControlOp(op_code)
    except ValueError:
        raise reader.fail(f"unknown op code {op_code}", offset=0) from None
    measurement = reader.u8("measurement type")
    return op, measurement, _read_settings(reader)  # offsets in errors count from the request's first byte


def build_response(
    op: ControlOp | int, measurement: int, status: PmdStatus | int, parameters: bytes = b"", *, more: bool = False
) -> bytes:
    """One response packet as a device sends it (used by the simulated H10 and tests)."""
    return bytes((RESPONSE_CODE, op, measurement, status, int(more))) + parameters


class PmdControlDecoder:
    """Turns control-point notifications into `PmdControlResponse` / `MeasurementStopped` events.

    A response with the `more` flag set is held until its last packet (continuation packets repeat the
    5-byte header; their parameters are appended). Any malformed packet raises DecodeError and drops the
    partial response, so the next packet starts clean.
    """

    __slots__ = ("_pending_header", "_pending_params")

    def __init__(self) -> None:
        self._pending_header: tuple[int, int, int] | None = None
        self._pending_params = bytearray()

    def feed(self, payload: bytes) -> list[PmdControlResponse | MeasurementStopped]:
        reader = ByteReader(payload, protocol=PROTOCOL)
        code = reader.u8("response code")
        if code == ONLINE_MEASUREMENT_STOPPED:
            return [MeasurementStopped(measurement_types=tuple(reader.rest()))]
        if code != RESPONSE_CODE:
            raise reader.fail(f"unknown control-point notification 0x{code:02x}", offset=0)
        op, measurement, status = reader.u8("op code"), reader.u8("measurement type"), reader.u8("status")
        if status != PmdStatus.SUCCESS:
            # errors carry no parameters; a "more" byte may or may not be present
            self._reset()
            return [PmdControlResponse(op=op, measurement_type=measurement, status=status)]
        more = reader.u8("more flag")
        if self._pending_header is not None and self._pending_header != (op, measurement, status):
            self._reset()
            raise reader.fail("continuation packet does not match the pending response", offset=1)
        self._pending_header = (op, measurement, status)
        self._pending_params += reader.rest()
        if len(self._pending_params) > MAX_RESPONSE_BYTES:
            self._reset()
            raise reader.fail(f"response longer than {MAX_RESPONSE_BYTES} bytes")
        if more:
            return []
        params = bytes(self._pending_params)
        self._reset()
        return [
            PmdControlResponse(
                op=op, measurement_type=measurement, status=status, parameters=params, settings=_settings_of(op, params)
            )
        ]

    def _reset(self) -> None:
        self._pending_header = None
        self._pending_params.clear()


def _settings_of(op: int, params: bytes) -> PmdSettings | None:
    if op == ControlOp.GET_SETTINGS:
        return parse_settings(params)
    if op == ControlOp.START and params:
        # H10 firmware answers a start with one byte that is not a settings list; only a well-formed
        # list (Verity Sense: FACTOR) is settings. The raw bytes stay in `parameters` either way.
        try:
            return parse_settings(params)
        except DecodeError:
            return None
    return None


def parse_response(payload: bytes) -> PmdControlResponse | MeasurementStopped:
    """Parse one single-packet notification (convenience over `PmdControlDecoder`)."""
    events = PmdControlDecoder().feed(payload)
    if not events:
        raise DecodeError("response continues in another packet", protocol=PROTOCOL, payload=payload)
    return events[0]


FEATURES_CODE = 0x0F  # first byte of a control-point read


def parse_features(payload: bytes) -> frozenset[MeasurementType]:
    """The measurements a device offers, from a read of the control point: 0x0F then a bitmap whose
    bit n means measurement type n."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    if reader.u8("features code") != FEATURES_CODE:
        raise reader.fail("control-point read does not start with the features code 0x0F", offset=0)
    bitmap = reader.u8("features bitmap")
    return frozenset(m for m in MeasurementType if bitmap & (1 << m))
