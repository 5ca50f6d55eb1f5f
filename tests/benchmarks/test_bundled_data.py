"""The bundled recordings unpack to the published bytes, and a damaged copy stops with the file's name."""

from __future__ import annotations

import gzip
import hashlib
import pathlib
import shutil

import pytest

from benchmarks.validation.bundled_data import DATA_DIR, BundledDataError, expected_sums, unpack


def test_every_listed_file_is_bundled_and_unpacks_to_its_checksum(real_data: pathlib.Path) -> None:
    sums = expected_sums()
    assert "ble_vectors.json" in sums and len(sums) == 9
    for name, digest in sums.items():
        assert hashlib.sha256((real_data / name).read_bytes()).hexdigest() == digest, name


def _copy_of_data(tmp_path: pathlib.Path) -> pathlib.Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def test_a_changed_value_in_a_bundled_file_fails_with_its_name(tmp_path: pathlib.Path) -> None:
    data = _copy_of_data(tmp_path)
    packed = data / "alcantara_sacral_grf" / "trial_info.csv.gz"
    text = gzip.decompress(packed.read_bytes()).replace(b"76.8", b"76.9", 1)
    packed.write_bytes(gzip.compress(text))
    with pytest.raises(BundledDataError, match=r"alcantara_sacral_grf/trial_info\.csv: SHA-256 differs"):
        unpack(tmp_path / "out", data_dir=data)
    assert not (tmp_path / "out" / "alcantara_sacral_grf" / "trial_info.csv").exists()


def test_a_truncated_archive_fails_with_its_name(tmp_path: pathlib.Path) -> None:
    data = _copy_of_data(tmp_path)
    packed = data / "davis_garmin_stryd_metrics" / "V01_course_run_2023_03_08_processed.csv.gz"
    packed.write_bytes(packed.read_bytes()[:1000])
    with pytest.raises(BundledDataError, match=r"V01_course_run_2023_03_08_processed\.csv\.gz: cannot be read"):
        unpack(tmp_path / "out", data_dir=data)


def test_a_damaged_unpacked_copy_is_rewritten_from_the_archive(tmp_path: pathlib.Path) -> None:
    out = unpack(tmp_path / "out")
    target = out / "ble_vectors.json"
    target.write_text("{}")
    unpack(out)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected_sums()["ble_vectors.json"]
