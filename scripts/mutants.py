"""Mutation check of the decoders, the capture reader and the CSV importer: do the tests notice a bug?

Each mutant below is a small, plausible bug (a check dropped, a bound off by one, an error swallowed, an
offset wrong) written as source-text replacements. The script copies the checkout to a temporary
directory once, and for each mutant applies it there, runs the tests that cover that code (fuzz and unit
tests, stopping at the first failure) and restores the file, so the checkout itself is never changed. A
mutant is killed when a test fails (or the run times out, or the module no longer imports), and survives
when every test passes. It prints a table (mutant, file:line, killed/survived, by which test) and the
score; mutants marked `equivalent` are shown with the reason and left out of the score. Exit status 1
when the score is below --min-score.

    python scripts/mutants.py                    # every mutant (about 10 minutes on 2 cores)
    python scripts/mutants.py --only capture-    # the mutants whose name starts with that
    python scripts/mutants.py --list             # names and descriptions, nothing run

The seeds of the fuzz tests are pinned (tests/fuzz/_support.py), so a run's verdicts are reproducible.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
TIMEOUT_S = 300  # a mutant that makes a decoder loop forever is killed by the clock

TESTS = {
    "capture": ["tests/fuzz/test_capture.py", "tests/sensors/test_capture.py"],
    "protocols": ["tests/fuzz/test_protocols.py", "tests/sensors/protocols"],
    "imu": ["tests/fuzz/test_strideguard_imu.py", "tests/sensors/protocols/test_strideguard_imu.py"],
    "csv": ["tests/fuzz/test_csv_import.py", "tests/sensors/test_imports.py"],
}
TESTS["reader"] = TESTS["protocols"] + TESTS["imu"][:1]


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository
    edits: tuple[tuple[str, str], ...]  # (exact source text, its replacement), each found exactly once
    tests: str  # key of TESTS
    why: str
    equivalent: str = ""  # why no test can tell it from the original (then it is not scored)


def m(name: str, path: str, old: str, new: str, tests: str, why: str, equivalent: str = "") -> Mutant:
    return Mutant(name, path, ((old, new),), tests, why, equivalent)


CAPTURE = "sensors/capture.py"
READER = "sensors/protocols/_reader.py"
IMU = "sensors/protocols/strideguard_imu.py"
PMD_DATA = "sensors/protocols/pmd_data.py"
PMD_CONTROL = "sensors/protocols/pmd_control.py"

_SWALLOW = (
    '    def __iter__(self) -> Iterator[Record]:\n        with open(self.path, "rb") as f:',
    "    def __iter__(self) -> Iterator[Record]:\n        try:\n            yield from self._iter()\n"
    "        except CaptureError:\n            return\n\n"
    '    def _iter(self) -> Iterator[Record]:\n        with open(self.path, "rb") as f:',
)
_SKIP_HEADER_CRC = (" or _U32.unpack_from(blob, n)[0] != zlib.crc32(blob[:n])", "")

MUTANTS = [
    # -- the capture reader: the case of issue 15 first -------------------------------------------------
    Mutant(
        "capture-swallow-and-skip-header-crc",
        CAPTURE,
        (_SWALLOW, _SKIP_HEADER_CRC),
        "capture",
        "issue 15: every damage error swallowed (iteration just ends) and the header checksum skipped",
    ),
    Mutant("capture-swallow-errors", CAPTURE, (_SWALLOW,), "capture", "damage ends the iteration silently"),
    Mutant("capture-skip-header-crc", CAPTURE, (_SKIP_HEADER_CRC,), "capture", "header checksum not checked"),
    m("capture-skip-frame-crc", CAPTURE, "if zlib.crc32(packed) != crc:", "if False:", "capture", "frame CRC"),
    m("capture-no-tag-check", CAPTURE, 'if tag != b"F" or raw_len', "if raw_len", "capture", "frame tag unchecked"),
    m(
        "capture-no-raw-bound",
        CAPTURE,
        " or raw_len > MAX_FRAME_RAW_BYTES:",
        ":",
        "capture",
        "a frame may claim any inflated size",
    ),
    m(
        "capture-no-packed-precheck",
        CAPTURE,
        "if packed_len > file_bytes - offset - _FRAME.size:",
        "if False:",
        "capture",
        "a frame's length is read before it is checked against the file",
    ),
    m(
        "capture-no-length-mismatch",
        CAPTURE,
        "if len(raw) != raw_len or inflater.unconsumed_tail or not inflater.eof:",
        "if False:",
        "capture",
        "a frame that inflates to another size than it says is accepted",
    ),
    m(
        "capture-no-eof-check",
        CAPTURE,
        "if len(raw) != raw_len or inflater.unconsumed_tail or not inflater.eof:",
        "if len(raw) != raw_len:",
        "capture",
        "trailing compressed bytes after the declared size accepted",
    ),
    m(
        "capture-inflate-unbounded",
        CAPTURE,
        "raw = inflater.decompress(packed, raw_len + 1)",
        "raw = inflater.decompress(packed)",
        "capture",
        "a frame that lies about its size is inflated whole (zip bomb)",
    ),
    m(
        "capture-frame-offset",
        CAPTURE,
        "offset += _FRAME.size + packed_len",
        "offset += packed_len",
        "capture",
        "error offsets after the first frame are wrong",
    ),
    m("capture-version", CAPTURE, "if version > VERSION:", "if version > VERSION + 1:", "capture", "version 2 read"),
    m(
        "capture-magic",
        CAPTURE,
        "head[:6] != MAGIC",
        "head[:5] != MAGIC[:5]",
        "capture",
        "the magic's last byte is not checked",
    ),
    m(
        "capture-header-offset",
        CAPTURE,
        'raise CaptureError("capture header is truncated or damaged", path=self.path, offset=_HEADER.size)\n'
        "        try:",
        'raise CaptureError("capture header is truncated or damaged", path=self.path, offset=0)\n        try:',
        "capture",
        "a damaged header JSON reported at byte 0",
    ),
    m(
        "capture-data-offset",
        CAPTURE,
        "self._data_offset = _HEADER.size + n + _U32.size",
        "self._data_offset = _HEADER.size + n + _U32.size + 1",
        "capture",
        "frames read one byte late",
    ),
    m(
        "capture-record-header-bound",
        CAPTURE,
        "if pos + _RECORD.size > len(raw):",
        "if pos + _RECORD.size > len(raw) + 1:",
        "capture",
        "a record header cut by the frame end escapes as struct.error",
    ),
    m("capture-record-body-bound", CAPTURE, "if len(body) < n:", "if False:", "capture", "a short record is parsed"),
    m(
        "capture-struct-error-escapes",
        CAPTURE,
        "                struct.error,\n",
        "",
        "capture",
        "a short record body escapes as struct.error",
    ),
    m("capture-records-read", CAPTURE, "self.records_read += 1", "pass", "capture", "records_read stays 0"),
    m(
        "capture-undeclared-stream",
        CAPTURE,
        "if stream_id not in self.streams:",
        "if False:",
        "capture",
        "a notification of an undeclared stream is accepted",
    ),
    m(
        "capture-samples-length",
        CAPTURE,
        "if len(body) != _SAMPLES.size + n * 8 + n * 12:",
        "if len(body) < _SAMPLES.size + n * 8 + n * 12:",
        "capture",
        "a samples record longer than its count says is accepted",
    ),
    m(
        "capture-replay-uncounted",
        CAPTURE,
        "stats.decode_errors[key] = stats.decode_errors.get(key, 0) + 1",
        "pass",
        "capture",
        "replay skips undecodable notifications without counting them",
    ),
    m(
        "capture-replay-notifications",
        CAPTURE,
        "            stats.notifications += 1\n",
        "",
        "capture",
        "replay does not count notifications",
    ),
    # -- ByteReader ---------------------------------------------------------------------------------
    m(
        "reader-take-bound",
        READER,
        "if n_bytes < 0 or self.remaining < n_bytes:",
        "if n_bytes < 0 or self.remaining < n_bytes - 1:",
        "reader",
        "take() returns one byte short instead of refusing",
    ),
    m(
        "reader-take-negative",
        READER,
        "if n_bytes < 0 or self.remaining < n_bytes:",
        "if self.remaining < n_bytes:",
        "reader",
        "take() of a negative count",
        equivalent="every caller passes a count read as an unsigned field or a product of them: never < 0",
    ),
    m("reader-unpack-bound", READER, "if self.remaining < layout.size:", "if False:", "reader", "struct.error"),
    m(
        "reader-fail-offset",
        READER,
        "offset=self.offset if offset is None else offset",
        "offset=self.offset",
        "reader",
        "an explicit error offset is ignored",
    ),
    m(
        "reader-array-advance",
        READER,
        "        self.offset += n_bytes\n        return values",
        "        return values",
        "reader",
        "array() does not advance",
    ),
    m(
        "reader-take-advance",
        READER,
        "        start = self.offset\n        self.offset += n_bytes",
        "        start = self.offset\n        self.offset += n_bytes - (n_bytes > 1)",
        "reader",
        "take() advances one byte too few",
    ),
    m(
        "reader-rest-advance",
        READER,
        "        self.offset = len(self.payload)\n        return data",
        "        return data",
        "reader",
        "rest() leaves the offset where it was",
    ),
    # -- the BLE decoders -------------------------------------------------------------------------------
    m(
        "hrm-rr-odd",
        "sensors/protocols/hrm.py",
        "if reader.remaining % 2:",
        "if False:",
        "protocols",
        "an odd RR byte count",
    ),
    m(
        "hrm-rr-empty",
        "sensors/protocols/hrm.py",
        "        if reader.remaining == 0:\n",
        "        if False:\n",
        "protocols",
        "RR flag without RR data",
    ),
    m(
        "hrm-trailing",
        "sensors/protocols/hrm.py",
        "    elif reader.remaining:",
        "    elif False:",
        "protocols",
        "trailing bytes",
    ),
    m(
        "hrm-contact",
        "sensors/protocols/hrm.py",
        "if flags & FLAG_CONTACT_SUPPORTED else None",
        "if flags & FLAG_CONTACT_DETECTED else None",
        "protocols",
        "contact support read from the wrong bit",
    ),
    m("rsc-trailing", "sensors/protocols/rsc.py", "    if reader.remaining:", "    if False:", "protocols", "trailing"),
    m(
        "rsc-speed-unit",
        "sensors/protocols/rsc.py",
        "speed_mps=speed_raw / 256.0",
        "speed_mps=speed_raw / 100.0",
        "protocols",
        "speed in the wrong unit",
    ),
    m(
        "alert-length",
        "sensors/protocols/alert_level.py",
        "if len(payload) != 1:",
        "if not payload:",
        "protocols",
        "a longer alert write accepted",
    ),
    m(
        "pmd-delta-width-bound",
        PMD_DATA,
        "if width > MAX_DELTA_WIDTH_BITS:",
        "if width > MAX_DELTA_WIDTH_BITS + 32:",
        "protocols",
        "64-bit deltas accepted",
    ),
    m(
        "pmd-delta-sign",
        PMD_DATA,
        "values = np.where(values >= (1 << (width - 1)), values - (1 << width), values)",
        "values = np.where(values > (1 << (width - 1)), values - (1 << width), values)",
        "protocols",
        "the most negative delta read as positive",
    ),
    m(
        "pmd-raw-partial",
        PMD_DATA,
        "if not content or len(content) % sample_bytes:",
        "if not content:",
        "protocols",
        "a raw frame with a partial sample",
    ),
    m(
        "pmd-type-mask",
        PMD_DATA,
        "measurement = type_byte & MEASUREMENT_TYPE_MASK",
        "measurement = type_byte",
        "protocols",
        "the measurement type's top bits are not masked",
    ),
    m(
        "pmd-delta-offset",
        PMD_DATA,
        "reader = ByteReader(payload, protocol=PROTOCOL, offset=offset)",
        "reader = ByteReader(content, protocol=PROTOCOL)",
        "protocols",
        "the bug fixed here: a truncated delta frame refused at an offset into its content",
    ),
    m(
        "pmd-control-continuation",
        PMD_CONTROL,
        "if self._pending_header is not None and self._pending_header != (op, measurement, status):",
        "if False:",
        "protocols",
        "a continuation of another response is appended",
    ),
    m(
        "pmd-control-bound",
        PMD_CONTROL,
        "if len(self._pending_params) > MAX_RESPONSE_BYTES:",
        "if False:",
        "protocols",
        "an endless response grows without bound",
    ),
    m(
        "pmd-settings-unknown",
        PMD_CONTROL,
        "            setting = SettingType(type_code)\n        except ValueError:",
        "            setting = SettingType(type_code % 6)\n        except ValueError:",
        "protocols",
        "an unknown setting type read as a known one",
    ),
    m(
        "pmd-features-code",
        PMD_CONTROL,
        'if reader.u8("features code") != FEATURES_CODE:',
        'if reader.u8("features code") == 0:',
        "protocols",
        "a control-point read without the features code",
    ),
    m(
        "movesense-finite",
        "sensors/protocols/movesense.py",
        "    if not finite:",
        "    if False:",
        "protocols",
        "NaN and inf samples accepted",
    ),
    m(
        "movesense-partial",
        "sensors/protocols/movesense.py",
        "if not body or len(body) % sample_bytes:",
        "if not body:",
        "protocols",
        "a partial sample accepted",
    ),
    m(
        "movesense-unsubscribed",
        "sensors/protocols/movesense.py",
        "    if subscription is None:\n",
        "    if subscription is None and reference > 200:\n",
        "protocols",
        "data of an unsubscribed reference (crashes later)",
    ),
    # -- the MQTT IMU payload ---------------------------------------------------------------------------
    m("imu-version", IMU, "if version != IMU_VERSION:", "if version > IMU_VERSION:", "imu", "version 0 accepted"),
    m("imu-kind", IMU, "if kind_code >= len(KIND_CODES):", "if kind_code > len(KIND_CODES):", "imu", "kind code 2"),
    m(
        "imu-placement",
        IMU,
        "if placement_code >= len(PLACEMENT_CODES):",
        "if placement_code > len(PLACEMENT_CODES):",
        "imu",
        "placement code one past the end",
    ),
    m("imu-flags", IMU, "if flags & ~(FLAG_FINAL | FLAG_INT64_TIMES):", "if False:", "imu", "unknown flag bits"),
    m("imu-rate", IMU, "np.isfinite(rate_hz) and rate_hz > 0", "rate_hz > 0", "imu", "an infinite rate"),
    m("imu-max-samples", IMU, "if n > MAX_SAMPLES:", "if n > MAX_SAMPLES + 1:", "imu", "the sample limit off by one"),
    m(
        "imu-session-bound",
        IMU,
        "if reader.remaining < session_len + 1:",
        "if reader.remaining < session_len:",
        "imu",
        "a session id that ends where the device length byte should be",
    ),
    m(
        "imu-length",
        IMU,
        "if len(reader.payload) != expected:",
        "if len(reader.payload) < expected:",
        "imu",
        "trailing bytes after the samples",
    ),
    m(
        "imu-increasing",
        IMU,
        "if n_deltas and int(deltas.min()) <= 0:",
        "if n_deltas and int(deltas.min()) < 0:",
        "imu",
        "repeated sample times",
    ),
    m(
        "imu-overflow",
        IMU,
        "and t0_ns + sum(int(d) for d in deltas) > _INT64_MAX",
        "and t0_ns + sum(int(d) for d in deltas) > _INT64_MAX + 2**40",
        "imu",
        "times that wrap past int64",
    ),
    m(
        "imu-utf8-offset",
        IMU,
        'raise reader.fail(f"session or device id is not UTF-8: {exc.reason}", offset=offset) from exc',
        'raise reader.fail(f"session or device id is not UTF-8: {exc.reason}") from exc',
        "imu",
        "a bad id reported after it, not at it",
    ),
    m(
        "imu-final",
        IMU,
        "final=bool(flags & FLAG_FINAL)",
        "final=bool(flags & FLAG_INT64_TIMES)",
        "imu",
        "the final flag read from the wrong bit",
    ),
    # -- the CSV importer -------------------------------------------------------------------------------
    m(
        "csv-widths",
        "sensors/imports/table.py",
        "and _widths_ok(lines, delimiter, len(header))",
        "",
        "csv",
        "rows with more cells than the header accepted",
    ),
    m(
        "csv-empty-line",
        "sensors/imports/table.py",
        "        if not line.strip():\n            error",
        "        if False:\n            error",
        "csv",
        "an empty line inside the data",
    ),
    m(
        "csv-cell-count",
        "sensors/imports/table.py",
        "        if len(cells) != len(header):",
        "        if len(cells) < len(header):",
        "csv",
        "a row with extra cells on the slow path",
    ),
    m(
        "csv-finite",
        "sensors/imports/table.py",
        "            if not math.isfinite(value):",
        "            if math.isnan(value):",
        "csv",
        "inf read as a number",
    ),
    m(
        "csv-line-numbers",
        "sensors/imports/table.py",
        "        line_number = offset + 2",
        "        line_number = offset + 1",
        "csv",
        "errors name the line before the bad one",
    ),
    m(
        "csv-increasing",
        "sensors/imports/samples.py",
        "bad_time = np.flatnonzero(np.diff(t_ns) <= 0) + 1",
        "bad_time = np.flatnonzero(np.diff(t_ns) < 0) + 1",
        "csv",
        "repeated times accepted",
    ),
    m(
        "csv-readable-part",
        "sensors/imports/samples.py",
        "        t_ns, acc_g = t_ns[:first_bad], acc_g[:first_bad]",
        "        t_ns, acc_g = t_ns[: first_bad - 1], acc_g[: first_bad - 1]",
        "csv",
        "the last good row before a bad one is lost",
    ),
    m(
        "csv-max-acc",
        "sensors/imports/samples.py",
        "bad_acc = np.flatnonzero(np.linalg.norm(acc_g, axis=1) > MAX_ACC_G)",
        "bad_acc = np.flatnonzero(np.linalg.norm(acc_g, axis=1) > 10 * MAX_ACC_G)",
        "csv",
        "absurd accelerations accepted",
    ),
    m(
        "csv-few-rows",
        "sensors/imports/samples.py",
        "inferred_hz = 1e9 / float(np.median(np.diff(t_ns))) if t_ns.size >= 3 else None",
        "inferred_hz = 1e9 / float(np.median(np.diff(t_ns))) if t_ns.size >= 2 else None",
        "csv",
        "a rate inferred from two rows",
    ),
]


@dataclasses.dataclass
class Verdict:
    mutant: Mutant
    where: str
    status: str  # killed | survived | timeout | equivalent
    by: str
    seconds: float


def _copy_checkout(dest: pathlib.Path) -> None:
    shutil.copytree(
        REPO,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "*.egg-info"
        ),
    )


def _line_of(text: str, old: str) -> int:
    return text[: text.index(old)].count("\n") + 1


def _apply(copy: pathlib.Path, mutant: Mutant) -> tuple[str, str]:
    """Apply `mutant` in `copy`; returns (the original text, file:line)."""
    path = copy / mutant.path
    original = text = path.read_text()
    for old, new in mutant.edits:
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"mutant {mutant.name}: {old!r} occurs {count} times in {mutant.path}, expected once")
        text = text.replace(old, new)
    path.write_text(text)
    return original, f"{mutant.path}:{_line_of(original, mutant.edits[-1][0])}"


def _pytest(copy: pathlib.Path, tests: list[str], *, first_failure: bool) -> tuple[int | None, str]:
    """Run pytest in the copy (its own code first on sys.path); (exit code or None on timeout, output)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(copy), "STRIDEGUARD_MUTANT_RUN": "1"}
    env.pop("STRIDEGUARD_FUZZ_LONG", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *(["-x"] if first_failure else [])]
    try:
        done = subprocess.run(
            [*cmd, *tests], cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stdout + done.stderr


def _first_failure(output: str) -> str:
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return found.group(1).split("::")[-1] if found else "(no test named: see the output)"


def run(mutants: list[Mutant], copy: pathlib.Path) -> list[Verdict]:
    verdicts = []
    for mutant in mutants:
        started = time.monotonic()
        original, where = _apply(copy, mutant)
        try:
            code, output = _pytest(copy, TESTS[mutant.tests], first_failure=True)
        finally:
            (copy / mutant.path).write_text(original)
        seconds = time.monotonic() - started
        if code is None:
            status, by = "killed", f"timeout after {TIMEOUT_S} s"
        elif code == 0:
            status, by = ("equivalent", mutant.equivalent) if mutant.equivalent else ("survived", "-")
        else:
            status, by = "killed", _first_failure(output)
        verdicts.append(Verdict(mutant, where, status, by, seconds))
        print(f"  {mutant.name}: {status} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    return verdicts


def report(verdicts: list[Verdict]) -> float:
    width = max(len(v.mutant.name) for v in verdicts)
    where_width = max(len(v.where) for v in verdicts)
    print(f"{'mutant':<{width}}  {'file:line':<{where_width}}  {'verdict':<10}  by")
    for v in verdicts:
        print(f"{v.mutant.name:<{width}}  {v.where:<{where_width}}  {v.status:<10}  {v.by}")
    scored = [v for v in verdicts if v.status != "equivalent"]
    killed = sum(v.status == "killed" for v in scored)
    score = killed / len(scored) if scored else 1.0
    equivalent = len(verdicts) - len(scored)
    print(f"\nmutation score: {killed}/{len(scored)} killed = {score:.0%} ({equivalent} equivalent, not scored)")
    for v in scored:
        if v.status == "survived":
            print(f"SURVIVED {v.mutant.name} ({v.where}): {v.mutant.why}")
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated name prefixes of the mutants to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--min-score", type=float, default=0.9, help="exit 1 below this score (default 0.9)")
    args = parser.parse_args(argv)
    prefixes = [p for p in args.only.split(",") if p]
    chosen = [mu for mu in MUTANTS if not prefixes or any(mu.name.startswith(p) for p in prefixes)]
    if not chosen:
        print(f"no mutant matches {args.only!r}", file=sys.stderr)
        return 2
    if args.list:
        for mu in chosen:
            print(f"{mu.name:<40} {mu.path:<40} {mu.why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="sg-mutants-") as tmp:
        copy = pathlib.Path(tmp) / "repo"
        _copy_checkout(copy)
        where = subprocess.run(
            [sys.executable, "-c", "import strideguard.sensors.capture as c; print(c.__file__)"],
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not pathlib.Path(where).resolve().is_relative_to(copy.resolve()):
            print(f"the copy imports strideguard from {where}, not from itself", file=sys.stderr)
            return 2
        groups = sorted({mu.tests for mu in chosen})
        code, output = _pytest(copy, sorted({t for g in groups for t in TESTS[g]}), first_failure=False)
        if code != 0:
            print(output[-3000:], file=sys.stderr)
            print("the tests fail without any mutant: fix them first", file=sys.stderr)
            return 2
        print(f"{len(chosen)} mutants; tests: {', '.join(groups)} (unmutated: pass)", file=sys.stderr)
        score = report(run(chosen, copy))
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
