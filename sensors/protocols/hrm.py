"""Heart Rate Measurement (Bluetooth SIG characteristic 0x2A37).

    flags u8 | heart rate u8 or u16 | [energy expended u16 kJ] | [RR interval u16 (1/1024 s)]...
    flags: bit 0 heart rate is u16, bits 1-2 sensor contact (bit 2 = supported, bit 1 = detected),
           bit 3 energy present, bit 4 RR intervals present

Malformed payloads raise DecodeError: an RR flag without RR data, an odd RR byte count, a short field.
"""

from __future__ import annotations

from dataclasses import dataclass

from strideguard.sensors.protocols._reader import ByteReader

PROTOCOL = "hrm"
FLAG_HR_U16 = 0x01
FLAG_CONTACT_DETECTED = 0x02
FLAG_CONTACT_SUPPORTED = 0x04
FLAG_ENERGY = 0x08
FLAG_RR = 0x10
RR_UNITS_PER_S = 1024  # RR intervals are in 1/1024 s


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateMeasurement:
    heart_rate_bpm: int
    sensor_contact: bool | None  # None when the strap does not report contact
    energy_kj: int | None
    rr_raw_1_1024s: tuple[int, ...]

    @property
    def rr_intervals_ms(self) -> tuple[float, ...]:
        return tuple(rr * 1000.0 / RR_UNITS_PER_S for rr in self.rr_raw_1_1024s)


def parse_hrm(payload: bytes) -> HeartRateMeasurement:
    reader = ByteReader(payload, protocol=PROTOCOL)
    flags = reader.u8("flags")
    heart_rate = reader.u16("heart rate") if flags & FLAG_HR_U16 else reader.u8("heart rate")
    contact = bool(flags & FLAG_CONTACT_DETECTED) if flags & FLAG_CONTACT_SUPPORTED else None
    energy = reader.u16("energy expended") if flags & FLAG_ENERGY else None
    rr: list[int] = []
    if flags & FLAG_RR:
        if reader.remaining == 0:
            raise reader.fail("RR-interval flag set but no RR data")
        if reader.remaining % 2:
            raise reader.fail(f"RR data of {reader.remaining} bytes is not a whole number of u16 intervals")
        while reader.remaining:
            rr.append(reader.u16("RR interval"))
    elif reader.remaining:
        raise reader.fail(f"{reader.remaining} unexpected trailing bytes")
    return HeartRateMeasurement(
        heart_rate_bpm=heart_rate, sensor_contact=contact, energy_kj=energy, rr_raw_1_1024s=tuple(rr)
    )


def build_hrm(m: HeartRateMeasurement) -> bytes:
    """Encode (the simulated strap's side); a heart rate above 255 uses the u16 form."""
    wide = m.heart_rate_bpm > 0xFF
    flags = (
        (FLAG_HR_U16 if wide else 0)
        | (FLAG_ENERGY if m.energy_kj is not None else 0)
        | (FLAG_RR if m.rr_raw_1_1024s else 0)
    )
    if m.sensor_contact is not None:
        flags |= FLAG_CONTACT_SUPPORTED | (FLAG_CONTACT_DETECTED if m.sensor_contact else 0)
    out = bytearray((flags,))
    out += m.heart_rate_bpm.to_bytes(2 if wide else 1, "little")
    if m.energy_kj is not None:
        out += m.energy_kj.to_bytes(2, "little")
    for rr in m.rr_raw_1_1024s:
        out += rr.to_bytes(2, "little")
    return bytes(out)
