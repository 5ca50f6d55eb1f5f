"""Device Information Service strings: what the device sent, made safe to put in an export, never invented."""

from __future__ import annotations

import random

import pytest

from strideguard.sensors.protocols import dis
from strideguard.sensors.types import NO_META, StreamMeta
from tests.fuzz._support import fuzz_seed


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"Polar Electro Oy", "Polar Electro Oy"),
        (b"H10\x00\x00\x00\x00", "H10"),  # NUL padding to a fixed length, as some firmware sends
        (b"  3.1.1\r\n", "3.1.1"),
        ("Suunto Oyj \u00e4".encode(), "Suunto Oyj \u00e4"),  # real UTF-8 stays
        (b"Caf\xe9 Sensors", "Caf\ufffd Sensors"),  # Latin-1 is not UTF-8: replaced, not a crash
        (b"Evil\x1b[2J\x1b]0;pwned\x07Corp", "Evil [2J ]0;pwned Corp"),  # terminal escapes lose their ESC/BEL
        (b"line1\nline2\tx", "line1 line2 x"),  # no line breaks into a TSV/JSON reader's face
        ("a\u202eb\u200bc".encode(), "a b c"),  # bidi override, zero-width space: not printable
    ],
)
def test_a_dis_string_is_decoded_to_printable_text(payload: bytes, text: str) -> None:
    assert dis.decode_text(payload) == text


@pytest.mark.parametrize("payload", [b"", b"\x00" * 20, b"   ", b"\xff\xfe\xfd", b"\x01\x02\x03\x7f"])
def test_a_dis_string_with_nothing_readable_is_not_known(payload: bytes) -> None:
    assert dis.decode_text(payload) is None


def test_an_over_long_dis_string_is_cut_to_the_bound_and_says_so() -> None:
    text = dis.decode_text(b"A" * 10_000)
    assert text is not None
    assert len(text) == dis.MAX_TEXT_CHARS
    assert text.endswith("…")
    assert dis.decode_text(b"B" * dis.MAX_TEXT_CHARS) == "B" * dis.MAX_TEXT_CHARS  # at the bound: whole


def test_random_bytes_always_give_bounded_printable_text_or_none() -> None:
    seed = fuzz_seed()
    print(f"dis fuzz seed {seed}")
    rng = random.Random(seed)
    for _ in range(3000):
        payload = rng.randbytes(rng.randint(0, 700))
        text = dis.decode_text(payload)
        if text is not None:
            assert 0 < len(text) <= dis.MAX_TEXT_CHARS, (seed, payload)
            assert text.isprintable() and text == text.strip(), (seed, payload)


def test_device_meta_names_manufacturer_model_and_both_versions_when_they_differ() -> None:
    meta = dis.device_meta(
        {
            dis.MANUFACTURER_NAME: b"Polar Electro Oy",
            dis.MODEL_NUMBER: b"H10",
            dis.FIRMWARE_REVISION: b"2.1.9",
            dis.SOFTWARE_REVISION: b"3.1.1",
        }
    )
    assert meta == StreamMeta(manufacturer="Polar Electro Oy", model="H10", firmware="software 3.1.1, firmware 2.1.9")


def test_device_meta_uses_the_one_version_there_is_and_invents_nothing() -> None:
    assert dis.device_meta({dis.FIRMWARE_REVISION: b"1.4.0"}) == StreamMeta(firmware="1.4.0")
    assert dis.device_meta({dis.SOFTWARE_REVISION: b"3.1.1", dis.FIRMWARE_REVISION: b"3.1.1"}).firmware == "3.1.1"
    assert dis.device_meta({dis.MODEL_NUMBER: b"\x00\x00", dis.MANUFACTURER_NAME: b"\xff"}) == NO_META
    assert dis.device_meta({}) == NO_META
