"""Evidence export of one camera: our bundle (lossless PyAV remux into one faststart
MP4, manifest, signature, checksums, player, zip) against the baseline
``ffmpeg -f concat -safe 0 -i list.txt -c copy -movflags +faststart out.mp4`` over the
same segment files, measured in the same run; then the same with encryption at rest
(AES-256-GCM segments decrypted by ``read``; the baseline must first decrypt the
segments to files, then concatenate).

    .venv/bin/python benchmarks/export.py                # 1 hour of 720p25 ~2 Mbit/s
    .venv/bin/python benchmarks/export.py --minutes 5 --repeat 3

The segments are the simulator's 720p footage (vms/sim/footage.py, 30-s loop, an IDR
every 25 frames) cut into 4-s fMP4 segments as the recorder writes them. Prints a
table, writes benchmarks/results/export.json. Correctness is checked on every timed
run: both outputs must hold every recorded frame, and our bundle must verify.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vms.domain.model import SegmentRecord
from vms.evidence import ExportCamera, ExportRequest, Signer, verify_bundle
from vms.evidence.bundle import build_bundle
from vms.evidence.model import BundleSettings
from vms.evidence.synthetic import Run, SegmentFactory, record
from vms.sim.footage import prepare_footage

RESULTS = Path(__file__).resolve().parent / "results" / "export.json"
ORIGIN = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _frames_in(path: Path) -> int:
    """Frames of an MP4 from its index (no decoding)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=nb_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip())


def _ffmpeg_concat(files: list[Path], work: Path, sync: bool = True) -> tuple[float, Path]:
    listing = work / "list.txt"
    listing.write_text("".join(f"file '{f}'\n" for f in files))
    out = work / "concat.mp4"
    if sync:
        os.sync()  # start each timed run with no earlier write-back pending
    t0 = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
         "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - t0, out


def _ours(
    segments: list[SegmentRecord],
    read: Callable[[SegmentRecord], bytes],
    work: Path,
    make_zip: bool,
    export_id: int,
) -> tuple[float, Path, int]:
    request = ExportRequest(
        id=export_id,
        cameras=(ExportCamera("cam-bench", "Banc d'essai", "salle serveur", "commune-a"),),
        start=segments[0].start_at,
        end=segments[-1].end_at,
        motive="mesure de performance",
        service="banc d'essai",
        officer="-",
        reference=f"BENCH-{export_id}",
        requested_by="benchmark",
    )
    out = work / "bundles"
    os.sync()
    t0 = time.perf_counter()
    result = build_bundle(
        request, {"cam-bench": segments}, {}, read, out, Signer.generate(),
        settings=BundleSettings(installation="benchmark", make_zip=make_zip),
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    size = (result.directory / "videos" / "cam-bench.mp4").stat().st_size
    return elapsed, result.directory, size


def _check_bundle(directory: Path, expected_frames: int) -> None:
    assert _frames_in(directory / "videos" / "cam-bench.mp4") == expected_frames
    report = verify_bundle(directory)
    assert report.ok, report.problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="length of the export")
    p.add_argument("--repeat", type=int, default=1, help="timed runs per variant (median)")
    p.add_argument("--footage", type=Path, default=None, help="footage dir (var/footage)")
    p.add_argument("--work", type=Path, default=None, help="scratch dir (a temporary one)")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from vms.sim.launcher import DEFAULT_FOOTAGE_DIR

    footage = prepare_footage(args.footage or DEFAULT_FOOTAGE_DIR)["main"]
    work = Path(tempfile.mkdtemp(prefix="bench-export-", dir=args.work))
    try:
        return _run(args, footage, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, footage: Path, work: Path) -> int:
    aes = AESGCM(AESGCM.generate_key(bit_length=256))

    def encrypt(data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aes.encrypt(nonce, data, None)

    def decrypt(data: bytes) -> bytes:
        return aes.decrypt(data[:12], data[12:], None)

    count = max(1, round(args.minutes * 60 / 4))
    plain_root, enc_root = work / "plain", work / "enc"
    with SegmentFactory(footage) as factory:
        plain = record(factory, plain_root, "cam-bench", ORIGIN, [Run(0.0, count)])
        enc = record(factory, enc_root, "cam-bench", ORIGIN, [Run(0.0, count)], encrypt=encrypt)
        width, height = factory.width, factory.height
    frames = plain.frames
    media_bytes = sum(s.bytes for s in plain.segments)
    seconds = count * 4
    files = [plain_root / s.key for s in plain.segments]

    def read_plain(s: SegmentRecord) -> bytes:
        return (plain_root / s.key).read_bytes()

    def read_enc(s: SegmentRecord) -> bytes:
        return decrypt((enc_root / s.key).read_bytes())

    def decrypt_to_files(out: Path) -> list[Path]:
        paths: list[Path] = []
        for s in enc.segments:
            target = out / f"{len(paths):05d}.mp4"
            target.write_bytes(read_enc(s))
            paths.append(target)
        return paths

    # warm the page cache and the code paths once (not timed)
    for f in files[:10]:
        f.read_bytes()

    timings: dict[str, list[float]] = {
        k: [] for k in ("ffmpeg", "ours_dir", "ours_zip", "ffmpeg_enc", "ours_enc_zip")
    }
    out_size = 0
    for r in range(args.repeat):
        run = work / f"run{r}"
        run.mkdir()
        t, out = _ffmpeg_concat(files, run)
        assert _frames_in(out) == frames, "ffmpeg concat lost frames"
        timings["ffmpeg"].append(t)
        out.unlink()

        t, directory, out_size = _ours(plain.segments, read_plain, run / "a", False, 1)
        _check_bundle(directory, frames)
        timings["ours_dir"].append(t)
        shutil.rmtree(run / "a")

        t, directory, _ = _ours(plain.segments, read_plain, run / "b", True, 2)
        _check_bundle(directory, frames)
        assert verify_bundle(directory.with_suffix(".zip")).ok
        timings["ours_zip"].append(t)
        shutil.rmtree(run / "b")

        (run / "dec").mkdir()
        os.sync()
        t0 = time.perf_counter()
        decrypted = decrypt_to_files(run / "dec")
        t_dec = time.perf_counter() - t0
        t, out = _ffmpeg_concat(decrypted, run, sync=False)
        assert _frames_in(out) == frames
        timings["ffmpeg_enc"].append(t_dec + t)
        shutil.rmtree(run / "dec")
        out.unlink()

        t, directory, _ = _ours(enc.segments, read_enc, run / "c", True, 3)
        _check_bundle(directory, frames)
        timings["ours_enc_zip"].append(t)
        shutil.rmtree(run)

    med = {k: statistics.median(v) for k, v in timings.items()}
    mb = media_bytes / 1e6
    rows: list[dict[str, Any]] = []
    for label, key, base in (
        ("ffmpeg concat -c copy (clair)", "ffmpeg", "ffmpeg"),
        ("notre export, dossier seul (clair)", "ours_dir", "ffmpeg"),
        ("notre export, dossier + zip (clair)", "ours_zip", "ffmpeg"),
        ("déchiffrement + ffmpeg concat", "ffmpeg_enc", "ffmpeg_enc"),
        ("notre export, dossier + zip (chiffré)", "ours_enc_zip", "ffmpeg_enc"),
    ):
        rows.append(
            {
                "variant": key,
                "label": label,
                "seconds": round(med[key], 3),
                "ratio_vs_baseline": round(med[key] / med[base], 3),
                "baseline": base,
                "throughput_mb_s": round(mb / med[key], 1),
                "runs": [round(x, 3) for x in timings[key]],
            }
        )
    rows.append(
        {
            "variant": "ours_enc_zip_vs_plain_ffmpeg",
            "label": "notre export chiffré / ffmpeg sur segments en clair",
            "ratio_vs_baseline": round(med["ours_enc_zip"] / med["ffmpeg"], 3),
            "baseline": "ffmpeg",
        }
    )
    print(
        f"\nExport of {seconds / 60:g} min of one {width}x{height} camera: {count} segments, "
        f"{frames} frames, {mb:.0f} MB of media (output MP4 {out_size / 1e6:.0f} MB); "
        f"median of {args.repeat} run(s)\n"
    )
    print(f"{'variant':<42} {'time s':>8} {'ratio':>7} {'MB/s':>8}")
    for row in rows:
        if "seconds" not in row:
            print(f"{row['label']:<42} {'':>8} {row['ratio_vs_baseline']:>7.2f}")
            continue
        print(
            f"{row['label']:<42} {row['seconds']:>8.2f} {row['ratio_vs_baseline']:>7.2f} "
            f"{row['throughput_mb_s']:>8.1f}"
        )
    result = {
        "machine": {"cores": os.cpu_count()},
        "date": datetime.now(UTC).date().isoformat(),
        "minutes": seconds / 60,
        "segments": count,
        "frames": frames,
        "media_mb": round(mb, 1),
        "resolution": f"{width}x{height}",
        "repeat": args.repeat,
        "goal_ratio_max": 1.5,
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
