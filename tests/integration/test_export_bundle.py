"""Evidence bundles end to end with real media: recorder-like fMP4 segments (ffmpeg
test pattern, 4-s segments, runs and gaps stamped as the recorder does) exported with
PyAV, checked with ffprobe, verified, tampered with; the overlay re-encoded by the
ffmpeg CLI; the offline player driven in Chromium (in a subprocess)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vms.domain.model import GapCause, SegmentRecord
from vms.domain.ports import BlobStore
from vms.errors import ErrorKind, VmsError
from vms.evidence import (
    BundleResult,
    BundleSettings,
    ExportCamera,
    ExportRequest,
    Signer,
    build_bundle,
    verify_bundle,
)
from vms.evidence.synthetic import (
    Recording,
    Run,
    SegmentFactory,
    encode_test_pattern,
    record,
    runs_with_hole,
)
from vms.media.mp4 import iter_boxes
from vms.storage.fs import FsBlobStore
from vms.storage.reader import SegmentReader

pytestmark = pytest.mark.integration

ORIGIN = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CAM = ExportCamera("cam1", "Place de la Mairie", "angle rue Victor-Hugo", "Saint-Martin")
FRAME_S = 0.04
REPO = Path(__file__).resolve().parents[2]


def request(start_s: float, end_s: float, **changes: Any) -> ExportRequest:
    fields: dict[str, Any] = {
        "id": 42,
        "cameras": (CAM,),
        "start": ORIGIN + timedelta(seconds=start_s),
        "end": ORIGIN + timedelta(seconds=end_s),
        "motive": "vol à l'arraché",
        "service": "Commissariat de Saint-Martin",
        "officer": "OPJ Martin",
        "reference": "PV 2026/00123",
        "requested_by": "operateur.dupont",
        "approved_by": "superviseure.durand",
    }
    fields.update(changes)
    return ExportRequest(**fields)


def ffprobe(path: Path) -> dict[str, Any]:
    """Streams (frames counted by decoding) and format, as ffprobe reads them."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,codec_name,nb_read_frames,duration:format=duration",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def video_frames(info: dict[str, Any]) -> int:
    return sum(int(s["nb_read_frames"]) for s in info["streams"] if s["codec_type"] == "video")


def packet_digests(data: bytes | Path) -> list[str]:
    """SHA-256 of every video packet's payload, in decode order."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with av.open(source, "r") as container:
        video = container.streams.video[0]
        return [hashlib.sha256(bytes(p)).hexdigest() for p in container.demux(video) if p.size]


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture(scope="module")
def pattern(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of camera-like H.264 (320x180, 25 fps, IDR every 25 frames)."""
    return encode_test_pattern(tmp_path_factory.mktemp("pattern") / "pattern.h264")


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replica-a")


@pytest.fixture(scope="module")
def ten_minutes(pattern: Path, replica: Path) -> Recording:
    """10 minutes of 4-s segments with a 30-s hole in the middle (two runs + one gap)."""
    with SegmentFactory(pattern) as factory:
        return record(factory, replica, "cam1", ORIGIN, runs_with_hole(600, 30))


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


Built = tuple[BundleResult, list[float]]


@pytest.fixture(scope="module")
def built(
    ten_minutes: Recording, replica: Path, signer: Signer, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    progress: list[float] = []
    result = build_bundle(
        request(0, 600),
        {"cam1": ten_minutes.segments},
        {"cam1": ten_minutes.gaps},
        SegmentReader([FsBlobStore("a", replica)]).read,
        tmp_path_factory.mktemp("exports"),
        signer,
        settings=BundleSettings(installation="CSU de Saint-Martin"),
        progress=progress.append,
        journal_entry={"audit_seq": 99, "approved_at": ORIGIN},
    )
    return result, progress


def test_ten_minutes_with_a_hole_export_every_frame_losslessly(
    built: Built, ten_minutes: Recording, replica: Path
) -> None:
    result, progress = built
    assert [g.cause for g in ten_minutes.gaps] == [GapCause.STALL]
    mp4 = result.directory / "videos" / "cam1.mp4"
    assert sorted(p.name for p in (result.directory / "videos").iterdir()) == ["cam1.mp4"]
    info = ffprobe(mp4)
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]
    # the recorded pieces back to back: frames and duration are what was recorded
    assert video_frames(info) == ten_minutes.frames == 14_200
    recorded_s = sum(s.duration_90k for s in ten_minutes.segments) / 90_000
    assert abs(float(info["format"]["duration"]) - recorded_s) <= FRAME_S
    # faststart: the index comes before the media
    kinds = [b.type for b in iter_boxes(mp4.read_bytes())]
    assert kinds.index("moov") < kinds.index("mdat")
    # lossless: the very bytes of every recorded frame, in order
    source: list[str] = []
    for s in ten_minutes.segments:
        source += packet_digests((replica / s.key).read_bytes())
    assert packet_digests(mp4) == source
    # the manifest tells where the media came from and what is missing
    (cam,) = result.manifest["cameras"]
    assert cam["frames"] == 14_200 and cam["duration_s"] == recorded_s
    assert [(c["start"], c["end"]) for c in cam["covered"]] == [
        ("2026-11-22T09:00:00.000000Z", "2026-11-22T09:04:44.000000Z"),
        ("2026-11-22T09:05:14.000000Z", "2026-11-22T09:09:58.000000Z"),
    ]
    assert [(g["start"], g["cause"]) for g in cam["gaps"]] == [
        ("2026-11-22T09:04:44.000000Z", "stall")
    ]
    (timeline,) = [f["timeline"] for f in cam["files"]]
    assert [(p["media_start_s"], p["frames"]) for p in timeline] == [(0.0, 7100), (284.0, 7100)]
    assert len(cam["segments"]) == 142
    assert cam["segments"][71]["media_start_s"] == 284.0
    assert cam["segments"][71]["exported_start"] == "2026-11-22T09:05:14.000000Z"
    # the caller's journal entry, as signed (a datetime is written as text)
    assert result.manifest["journal"] == {"audit_seq": 99, "approved_at": str(ORIGIN)}
    # progress: from 0 to 1, never backwards
    assert progress[0] <= 0.01 and progress[-1] == 1.0
    assert progress == sorted(progress)
    assert result.journal_summary()["duration_s"] == {"cam1": recorded_s}


def test_bundle_and_zip_verify_and_one_flipped_byte_fails(
    built: Built, signer: Signer, tmp_path: Path
) -> None:
    result, _ = built
    assert result.zip_path is not None and result.zip_path.name == "extrait-42.zip"
    for path in (result.directory, result.zip_path):
        report = verify_bundle(path, signer.public_pem())
        assert report.ok, report.problems
        assert report.files_checked == 7
    with open(result.zip_path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    assert digest == result.zip_sha256
    video = tmp_path / "video"
    shutil.copytree(result.directory, video)
    flip(video / "videos" / "cam1.mp4", 3_000_000)
    report = verify_bundle(video, signer.public_pem())
    assert report.problems == [
        "Empreinte SHA-256 différente pour videos/cam1.mp4 : fichier modifié."
    ]
    manifest = tmp_path / "manifest"
    shutil.copytree(result.directory, manifest)
    flip(manifest / "manifest.json", 500)
    report = verify_bundle(manifest, signer.public_pem())
    assert not report.ok
    assert report.problems[0].startswith("SIGNATURE INVALIDE")


def test_cli_verifies_with_the_key_given_apart(
    built: Built, signer: Signer, tmp_path: Path
) -> None:
    result, _ = built
    assert result.zip_path is not None
    key = tmp_path / "cle-installation.pem"
    key.write_bytes(signer.public_pem())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    ok = subprocess.run(
        [sys.executable, "-m", "vms", "export", "verify", str(result.zip_path), "--cle", str(key)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("EXTRAIT INTÈGRE : signature valide, 7 fichiers vérifiés")
    other = Signer.generate().public_pem()
    key.write_bytes(other)
    bad = subprocess.run(
        [sys.executable, "-m", "vms", "export", "verify", str(result.zip_path), "--cle", str(key)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "SIGNATURE INVALIDE" in bad.stdout


def test_player_embeds_the_timeline_and_no_external_url(built: Built) -> None:
    result, _ = built
    html = (result.directory / "lecteur.html").read_text("utf-8")
    for needle in ("http:", "https:", "<link", "@import", "url("):
        assert needle not in html
    tag = '<script id="donnees" type="application/json">'
    start = html.index(tag) + len(tag)
    data = json.loads(html[start : html.index("</script>", start)])
    (cam,) = data["cameras"]
    assert (cam["name"], cam["location"]) == (CAM.name, CAM.location)
    (f,) = cam["files"]
    assert f["path"] == "videos/cam1.mp4" and f["frames"] == 14_200
    assert len(f["segments"]) == 142
    second_run = ORIGIN + timedelta(seconds=314)
    assert f["pieces"][1] == [284.0, 568.0, second_run.timestamp() * 1000, 7100]


def test_trimming_is_gop_granular_at_the_start_and_frame_exact_at_the_end(
    ten_minutes: Recording, replica: Path, signer: Signer, tmp_path: Path
) -> None:
    # keyframes every second: 5.5 s starts at the keyframe of 5.0 s
    result = build_bundle(
        request(5.5, 10.02), {"cam1": ten_minutes.segments}, {},
        SegmentReader([FsBlobStore("a", replica)]).read, tmp_path, signer,
        settings=BundleSettings(make_zip=False),
    )  # fmt: skip
    (cam,) = result.manifest["cameras"]
    assert cam["covered_range"] == {
        "start": "2026-11-22T09:00:05.000000Z",
        "end": "2026-11-22T09:00:10.040000Z",
    }
    assert cam["frames"] == 126
    first, second = cam["segments"]
    assert (first["frames_before_range"], first["frames_exported"]) == (25, 75)
    assert (second["frames_exported"], second["frames_after_range"]) == (51, 49)
    assert video_frames(ffprobe(result.directory / "videos" / "cam1.mp4")) == 126
    assert result.zip_path is None
    assert verify_bundle(result.directory, signer.public_pem()).ok


def test_overlay_is_delivered_beside_the_original_with_every_frame(
    ten_minutes: Recording, replica: Path, signer: Signer, tmp_path: Path
) -> None:
    # 280-319 s: one segment before the hole, two after it (the last one trimmed)
    progress: list[float] = []
    result = build_bundle(
        request(280, 319, overlay=True), {"cam1": ten_minutes.segments},
        {"cam1": ten_minutes.gaps}, SegmentReader([FsBlobStore("a", replica)]).read, tmp_path,
        signer, progress=progress.append,
    )  # fmt: skip
    videos = result.directory / "videos"
    original, overlay = ffprobe(videos / "cam1.mp4"), ffprobe(videos / "cam1-incrustation.mp4")
    assert video_frames(original) == video_frames(overlay) == 225
    assert abs(float(overlay["format"]["duration"]) - 9.0) <= FRAME_S
    (f,) = result.manifest["cameras"][0]["files"]
    assert f["overlay_path"] == "videos/cam1-incrustation.mp4"
    assert len(f["timeline"]) == 2
    assert verify_bundle(result.directory, signer.public_pem()).ok
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0.3 < p < 0.9 for p in progress)  # the re-encoding reported its progress


def test_missing_font_is_a_french_error_and_leaves_nothing(
    ten_minutes: Recording, replica: Path, signer: Signer, tmp_path: Path
) -> None:
    with pytest.raises(VmsError) as err:
        build_bundle(
            request(0, 8, overlay=True), {"cam1": ten_minutes.segments}, {},
            SegmentReader([FsBlobStore("a", replica)]).read, tmp_path, signer,
            settings=BundleSettings(font_file=tmp_path / "absente.ttf"),
        )  # fmt: skip
    assert err.value.kind is ErrorKind.UNAVAILABLE
    assert err.value.message.startswith("L'incrustation est impossible : police de caractères")
    assert list(tmp_path.iterdir()) == []


def test_encrypted_segments_are_checked_then_decrypted(
    pattern: Path, signer: Signer, tmp_path: Path
) -> None:
    aes = AESGCM(AESGCM.generate_key(bit_length=256))

    def encrypt(data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aes.encrypt(nonce, data, None)

    def decrypt(blob: bytes, key: str) -> bytes:
        del key  # Keyring.decrypt takes it for its messages
        return aes.decrypt(blob[:12], blob[12:], None)

    store = tmp_path / "replica"
    with SegmentFactory(pattern) as factory:
        rec = record(factory, store, "cam1", ORIGIN, [Run(0, 3)], encrypt=encrypt)
    read = SegmentReader([FsBlobStore("a", store)], decrypt).read
    result = build_bundle(
        request(0, 12), {"cam1": rec.segments}, {}, read, tmp_path / "out", signer
    )
    segments = result.manifest["cameras"][0]["segments"]
    assert all(s["encrypted"] and s["sha256"] != s["sha256_plaintext"] for s in segments)
    assert video_frames(ffprobe(result.directory / "videos" / "cam1.mp4")) == 300
    # a stored segment altered on the replica: refused, in French, nothing left behind
    flip(store / rec.segments[1].key, 100)
    with pytest.raises(VmsError) as err:
        build_bundle(request(0, 12, id=43), {"cam1": rec.segments}, {}, read, tmp_path / "out",
                     signer)  # fmt: skip
    assert (
        err.value.message == f"Empreinte SHA-256 différente pour {rec.segments[1].key} sur « a »."
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["extrait-42", "extrait-42.zip"]


def test_a_change_of_stream_parameters_starts_a_second_file(
    pattern: Path, signer: Signer, tmp_path: Path
) -> None:
    small = encode_test_pattern(tmp_path / "small.h264", seconds=4, size="160x90")
    store = tmp_path / "replica"
    with SegmentFactory(pattern) as big, SegmentFactory(small) as little:
        first = record(big, store, "cam1", ORIGIN, [Run(0, 2)])
        second = record(little, store, "cam1", ORIGIN + timedelta(seconds=10), [Run(0, 2)])
    segments = first.segments + second.segments
    result = build_bundle(
        request(0, 20), {"cam1": segments}, {}, SegmentReader([FsBlobStore("a", store)]).read,
        tmp_path / "out", signer,
    )  # fmt: skip
    (cam,) = result.manifest["cameras"]
    assert [(f["path"], f["width"], f["frames"]) for f in cam["files"]] == [
        ("videos/cam1-partie-1.mp4", 320, 200),
        ("videos/cam1-partie-2.mp4", 160, 200),
    ]
    for f in cam["files"]:
        assert video_frames(ffprobe(result.directory / f["path"])) == 200
    assert verify_bundle(result.directory, signer.public_pem()).ok


def test_audio_is_kept_when_segments_have_it(signer: Signer, tmp_path: Path) -> None:
    store = tmp_path / "replica"
    segments = []
    for i in range(2):
        key = f"commune-a/cam1/main/2026/11/22/audio-{i}.mp4"
        path = store / key
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
             "testsrc2=size=160x90:rate=25:duration=4", "-f", "lavfi", "-i",
             f"sine=frequency={440 * (i + 1)}:duration=4", "-c:v", "libx264", "-preset",
             "ultrafast", "-bf", "0", "-g", "25", "-c:a", "aac", "-shortest", "-movflags",
             "frag_keyframe+empty_moov+default_base_moof", str(path)],
            check=True,
        )  # fmt: skip
        data = path.read_bytes()
        start = ORIGIN + timedelta(seconds=4 * i)
        segments.append(
            SegmentRecord(
                camera_id="cam1",
                stream="main",
                start_at=start,
                end_at=start + timedelta(seconds=4),
                media_start_90k=360_000 * i,
                duration_90k=360_000,
                frames=100,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                key=key,
                run_id=1,
                replicas=("a",),
            )
        )
    result = build_bundle(
        request(0, 8), {"cam1": segments}, {}, SegmentReader([FsBlobStore("a", store)]).read,
        tmp_path / "out", signer,
    )  # fmt: skip
    info = ffprobe(result.directory / "videos" / "cam1.mp4")
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    assert video_frames(info) == 200
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert abs(float(audio["duration"]) - 8.0) < 0.1
    assert result.manifest["cameras"][0]["files"][0]["audio"] == "aac"


def test_nothing_recorded_or_an_existing_bundle_is_refused(
    built: Built, ten_minutes: Recording, replica: Path, signer: Signer, tmp_path: Path
) -> None:
    read = SegmentReader([FsBlobStore("a", replica)]).read
    with pytest.raises(VmsError) as err:
        build_bundle(request(900, 960), {"cam1": ten_minutes.segments}, {}, read, tmp_path, signer)
    assert err.value.kind is ErrorKind.NOT_FOUND
    assert err.value.message.startswith("Aucun enregistrement dans la plage demandée")
    result, _ = built
    with pytest.raises(VmsError) as err:
        build_bundle(
            request(0, 8), {"cam1": ten_minutes.segments}, {}, read, result.directory.parent,
            signer,
        )  # fmt: skip
    assert err.value.kind is ErrorKind.FAILED_PRECONDITION
    assert err.value.message.startswith("L'extrait existe déjà")


def test_an_unreadable_segment_stops_the_export_with_its_key(
    ten_minutes: Recording, signer: Signer, tmp_path: Path
) -> None:
    first = ten_minutes.segments[0]
    with pytest.raises(VmsError) as err:
        build_bundle(
            request(0, 8), {"cam1": ten_minutes.segments}, {}, lambda s: b"pas du MP4",
            tmp_path, signer,
        )  # fmt: skip
    assert err.value.message == f"Segment illisible pour la caméra cam1 ({first.key}) : " + (
        "l'extrait est interrompu."
    )
    assert list(tmp_path.iterdir()) == []


_PLAYER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from playwright.sync_api import sync_playwright
    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(locale="fr-FR")
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto("file://" + sys.argv[1])
        page.wait_for_function("document.getElementById('video').readyState >= 1")
        out["first"] = page.inner_text("#heure")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        out["next"] = page.inner_text("#heure")
        page.fill("#cible", "2026-11-22T10:04:50")
        page.click("#aller")
        page.wait_for_timeout(300)
        out["gap"] = [page.inner_text("#heure"), page.inner_text("#etat")]
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
        out["before_gap"] = page.inner_text("#heure")
        out["camera"] = page.inner_text("#nom") + " | " + page.inner_text("#lieu")
        out["requests"] = sorted(set(requests))
        b.close()
    print(json.dumps(out))
    """
)


def test_offline_player_shows_the_wall_time_of_each_frame_in_chromium(built: Built) -> None:
    # a subprocess: Playwright's greenlets must not run inside this pytest process
    result, _ = built
    done = subprocess.run(
        [sys.executable, "-c", _PLAYER_SCRIPT, str(result.directory / "lecteur.html")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["first"].startswith("22/11/2026 10:00:00,000")
    assert out["next"].startswith("22/11/2026 10:00:00,040")
    assert out["gap"][0].startswith("22/11/2026 10:05:14,000")
    assert out["gap"][1].startswith("Pas d'image enregistrée à cette heure")
    assert out["before_gap"].startswith("22/11/2026 10:04:43,960")
    assert out["camera"] == "Place de la Mairie (cam1) | angle rue Victor-Hugo — Saint-Martin"
    assert all(u.startswith("file://") for u in out["requests"]), out["requests"]


@pytest.mark.slow
def test_overlay_of_ten_minutes_with_a_hole(
    ten_minutes: Recording, replica: Path, signer: Signer, tmp_path: Path
) -> None:
    result = build_bundle(
        request(0, 600, overlay=True), {"cam1": ten_minutes.segments}, {"cam1": ten_minutes.gaps},
        SegmentReader([FsBlobStore("a", replica)]).read, tmp_path, signer,
    )  # fmt: skip
    overlay = ffprobe(result.directory / "videos" / "cam1-incrustation.mp4")
    assert video_frames(overlay) == 14_200
    assert verify_bundle(result.zip_path or result.directory, signer.public_pem()).ok


@pytest.mark.slow
def test_export_of_a_real_recording_maps_every_frame_to_the_camera_clock(
    sim_cameras: Callable[..., Any], pg_index: Any, signer: Signer, tmp_path: Path
) -> None:
    """Recorded by the ingest worker from a simulated camera whose link drops once; the
    export holds every recorded frame (SEI counters) and its timeline gives each frame
    the wall time the camera stamped, across the gap."""
    from tests.integration.harness import Recording as IngestRecording
    from tests.integration.harness import counters_in, recorded_counters
    from vms.sim.proxy import FaultProxy

    sim = sim_cameras(counter=1)
    store = tmp_path / "a"
    store.mkdir()
    replicas: list[BlobStore] = [FsBlobStore("a", store)]
    with (
        FaultProxy("127.0.0.1", sim.port) as proxy,
        IngestRecording(
            pg_index, replicas, tmp_path / "spool", {"cam0": proxy.url_for(sim.url(0))}
        ),
    ):
        time.sleep(10)
        proxy.flap(1, down_s=3, up_s=1).join(30)
        time.sleep(8)
    segments = pg_index.segments("cam0")
    gaps = pg_index.gaps("cam0")
    assert len(gaps) == 1
    camera = ExportCamera("cam0", "Caméra simulée", "banc d'essai", "commune-a")
    result = build_bundle(
        request(0, 1, cameras=(camera,), start=segments[0].start_at, end=segments[-1].end_at),
        {"cam0": segments}, {"cam0": gaps}, SegmentReader(replicas).read, tmp_path / "out", signer,
    )  # fmt: skip
    exported = counters_in((result.directory / "videos" / "cam0.mp4").read_bytes(), tmp_path)
    assert [c for c, _, _ in exported] == recorded_counters(segments, replicas[0], tmp_path)
    # each frame's wall time from the manifest (segment mapping) vs the camera's clock
    (cam,) = result.manifest["cameras"]
    starts = [
        (round(s["media_start_s"] * 1_000_000), datetime.fromisoformat(s["exported_start"]))
        for s in cam["segments"]
    ]
    offsets = []
    for _, camera_us, pts in exported:
        media_us = pts * 1_000_000 // 90_000
        seg_us, seg_wall = max((x for x in starts if x[0] <= media_us), key=lambda x: x[0])
        wall = seg_wall + timedelta(microseconds=media_us - seg_us)
        offsets.append(wall.timestamp() * 1_000_000 - camera_us)
    # a constant latency, the same before and after the gap (within a frame and jitter)
    assert len(cam["covered"]) == 2 and len(cam["gaps"]) == 1
    assert max(offsets) - min(offsets) < 80_000, (min(offsets), max(offsets))
