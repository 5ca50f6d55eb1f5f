"""Device Information Service (0x180A): who made the device, which model, which firmware.

The strings are whatever the device sends (UTF-8 by the spec, but nothing stops a cheap or broken one
from sending Latin-1, NUL padding, escape sequences or a kilobyte), and they end up in exports a paper
cites. So each value is decoded without failing, cut down to printable text of at most
`MAX_TEXT_CHARS`, and dropped when nothing readable is left: nothing is invented.
"""

from __future__ import annotations

from collections.abc import Mapping

from strideguard.sensors.types import StreamMeta

DEVICE_INFORMATION_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION = "00002a26-0000-1000-8000-00805f9b34fb"
SOFTWARE_REVISION = "00002a28-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME = "00002a29-0000-1000-8000-00805f9b34fb"
# read in this order; a device may have any subset
CHARACTERISTICS = (MANUFACTURER_NAME, MODEL_NUMBER, FIRMWARE_REVISION, SOFTWARE_REVISION)

MAX_TEXT_CHARS = 64  # characters kept of one value (real ones are under 20: "Polar Electro Oy", "3.1.1")
MAX_READ_BYTES = 512  # the ATT maximum attribute length: more than this is not a DIS string


def decode_text(payload: bytes) -> str | None:
    """One DIS string as printable text: UTF-8 (an undecodable byte becomes U+FFFD), NUL padding dropped,
    control and other non-printable characters turned into spaces, runs of spaces collapsed, at most
    `MAX_TEXT_CHARS` characters (cut ones end in "…"). None when nothing readable remains."""
    text = bytes(payload[:MAX_READ_BYTES]).decode("utf-8", errors="replace").replace("\x00", "")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not text.strip("\ufffd "):
        return None
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1].rstrip() + "…"


def device_meta(values: Mapping[str, bytes]) -> StreamMeta:
    """The stream metadata the DIS values read (by characteristic UUID) give: manufacturer, model and
    firmware. Polar devices put the version their apps call "firmware" in the Software Revision String
    and a bootloader version in the Firmware Revision String, other makers the other way round or only
    one of them: both are kept, labelled, when they differ."""
    text = {uuid: decode_text(payload) for uuid, payload in values.items()}
    software, firmware = text.get(SOFTWARE_REVISION), text.get(FIRMWARE_REVISION)
    if software and firmware and software != firmware:
        version: str | None = f"software {software}, firmware {firmware}"
    else:
        version = software or firmware
    return StreamMeta(manufacturer=text.get(MANUFACTURER_NAME), model=text.get(MODEL_NUMBER), firmware=version)
