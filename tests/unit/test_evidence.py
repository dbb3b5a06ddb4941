"""Evidence bundles, the parts without media: request validation, timeline arithmetic,
manifest, checksums, signature, verification against tampering, the player's embedded
data, the read-me, the CLI entry. A fake video file stands in for the MP4 (the real
remux is tested in tests/integration/test_export_bundle.py)."""

from __future__ import annotations

import json
import re
import stat
import zipfile
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from vms.cli import build_parser
from vms.domain.model import Gap, GapCause, SegmentRecord
from vms.errors import ErrorKind, VmsError
from vms.evidence import (
    BundleResult,
    BundleSettings,
    ExportCamera,
    ExportRequest,
    Signer,
    format_report,
    player,
    readme,
    verify_bundle,
)
from vms.evidence.manifest import CameraOutcome, PartOutcome, parse_sums, sums_text
from vms.evidence.model import OutputFile
from vms.evidence.overlay import OverlayText, _escape, filter_script
from vms.evidence.seal import seal, zip_bundle
from vms.evidence.signing import fingerprint, load_public_pem, signature_valid
from vms.evidence.timeline import (
    PlacedSegment,
    group_pieces,
    iso_utc,
    local_text,
    media_to_wall,
    select_segments,
    uncovered,
    wall_to_media,
)
from vms.evidence.verify import verify_command

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CAM = ExportCamera("cam1", "Place de la Mairie", "angle rue Victor-Hugo", "Saint-Martin")
CREATED = datetime(2026, 11, 23, 14, 30, 5, 123000, tzinfo=UTC)


def request(**changes: object) -> ExportRequest:
    fields: dict[str, object] = {
        "id": 7,
        "cameras": (CAM,),
        "start": T0,
        "end": T0 + timedelta(minutes=1),
        "motive": "vol à l'arraché",
        "service": "Commissariat de Saint-Martin",
        "officer": "OPJ Martin",
        "reference": "PV 2026/00123",
        "requested_by": "operateur.dupont",
        "approved_by": "superviseure.durand",
    }
    fields.update(changes)
    return ExportRequest(**fields)  # type: ignore[arg-type]


def segment(start_s: float, run: int = 1, frames: int = 100, stream: str = "main") -> SegmentRecord:
    start = T0 + timedelta(seconds=start_s)
    return SegmentRecord(
        camera_id="cam1", stream=stream, start_at=start,
        end_at=start + timedelta(seconds=frames * 0.04), media_start_90k=0,
        duration_90k=frames * 3600, frames=frames, bytes=1000, sha256="ab" * 32,
        key=f"commune-a/cam1/{stream}/{start_s:08.3f}-r{run}.mp4", run_id=run, replicas=("a",),
    )  # fmt: skip


def place(seg: SegmentRecord, media_s: float, frames: int = 100, head: int = 0) -> PlacedSegment:
    start = Fraction(media_s).limit_denominator(1000)
    return PlacedSegment(
        segment=seg, part=0, frames=frames, media_start=start,
        media_end=start + Fraction(frames, 25),
        wall_start=seg.start_at + timedelta(seconds=head * 0.04), head_dropped=head,
    )  # fmt: skip


# two runs: 0-8 s, then a 30-s hole, then 38-46 s
SEGS = [segment(0), segment(4), segment(38, run=2), segment(42, run=2)]
PLACED = [place(SEGS[0], 0), place(SEGS[1], 4), place(SEGS[2], 8), place(SEGS[3], 12)]
GAP = Gap("cam1", "main", T0 + timedelta(seconds=8), T0 + timedelta(seconds=38), GapCause.STALL)


def outcome(camera: ExportCamera = CAM) -> CameraOutcome:
    return CameraOutcome(
        camera=camera,
        segments=list(SEGS),
        gaps=[GAP],
        placed=list(PLACED),
        parts=[PartOutcome("videos/cam1.mp4", "h264", 320, 180, 400, Fraction(16))],
        plaintext_sha256={s.key: "cd" * 32 for s in SEGS},
    )


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


def make_bundle(root: Path, signer: Signer, req: ExportRequest | None = None) -> Path:
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "cam1.mp4").write_bytes(bytes(range(256)) * 64)
    req = req or request()
    seal(
        root, req, BundleSettings(installation="CSU de Saint-Martin"),
        [outcome(req.cameras[0])], signer, CREATED, {"audit_seq": 1234, "audit_hash": "ef" * 32},
    )  # fmt: skip
    return root


@pytest.fixture
def bundle(tmp_path: Path, signer: Signer) -> Path:
    return make_bundle(tmp_path / "extrait-7", signer)


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"end": T0}, "Plage horaire invalide : la fin doit suivre le début."),
        (
            {"start": T0.replace(tzinfo=None)},
            "Les dates de la demande doivent préciser leur fuseau",
        ),
        ({"motive": "  "}, "La demande d'extrait doit préciser : le motif."),
        ({"service": ""}, "La demande d'extrait doit préciser : le service destinataire."),
        ({"cameras": ()}, "Un extrait doit porter sur au moins une caméra."),
        ({"cameras": (CAM, CAM)}, "La caméra cam1 figure deux fois dans la demande d'extrait."),
    ],
)
def test_request_is_validated_with_french_messages(changes: dict[str, object], text: str) -> None:
    with pytest.raises(VmsError) as err:
        request(**changes)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert err.value.message.startswith(text)


# -- timeline ----------------------------------------------------------------------------


def test_select_segments_keeps_the_stream_and_range_in_order_once() -> None:
    other = segment(4, stream="sub")
    chosen = select_segments(
        [SEGS[2], SEGS[0], SEGS[1], SEGS[0], other, segment(60)],
        "main", T0 + timedelta(seconds=3), T0 + timedelta(seconds=39),
    )  # fmt: skip
    assert chosen == [SEGS[0], SEGS[1], SEGS[2]]
    # a segment ending exactly at the start, or starting exactly at the end, is outside
    assert (
        select_segments(SEGS, "main", T0 + timedelta(seconds=8), T0 + timedelta(seconds=38)) == []
    )


def test_pieces_group_contiguous_segments_of_a_run() -> None:
    pieces = group_pieces(PLACED)
    assert [(p.wall_start, p.wall_end, p.frames, p.segments) for p in pieces] == [
        (T0, T0 + timedelta(seconds=8), 200, 2),
        (T0 + timedelta(seconds=38), T0 + timedelta(seconds=46), 200, 2),
    ]
    assert [(p.media_start, p.media_end) for p in pieces] == [
        (Fraction(0), Fraction(8)),
        (Fraction(8), Fraction(16)),
    ]
    # a lost segment inside a run splits it too
    split = group_pieces([PLACED[0], place(segment(8), 4)])
    assert len(group_pieces([PLACED[0], PLACED[1]])) == 1 and len(split) == 2


def test_uncovered_spans_are_the_holes_of_the_requested_range() -> None:
    pieces = group_pieces(PLACED)
    holes = uncovered(pieces, T0 - timedelta(seconds=2), T0 + timedelta(seconds=50))
    assert holes == [
        (T0 - timedelta(seconds=2), T0),
        (T0 + timedelta(seconds=8), T0 + timedelta(seconds=38)),
        (T0 + timedelta(seconds=46), T0 + timedelta(seconds=50)),
    ]
    assert uncovered(pieces, T0, T0 + timedelta(seconds=8)) == []


def test_media_time_maps_to_wall_time_across_the_closed_gap() -> None:
    assert media_to_wall(PLACED, 0, Fraction(0)) == T0
    assert media_to_wall(PLACED, 0, Fraction(799, 100)) == T0 + timedelta(seconds=7.99)
    # media 8 s is the first frame after the 30-s hole
    assert media_to_wall(PLACED, 0, Fraction(8)) == T0 + timedelta(seconds=38)
    assert media_to_wall(PLACED, 0, Fraction(16)) is None
    assert wall_to_media(PLACED, T0 + timedelta(seconds=39.5)) == (0, Fraction(19, 2), True)
    # inside the hole: the next recorded frame
    assert wall_to_media(PLACED, T0 + timedelta(seconds=20)) == (0, Fraction(8), False)
    assert wall_to_media(PLACED, T0 + timedelta(seconds=50)) is None


def test_dates_are_shown_in_french_local_time_with_their_offset() -> None:
    assert iso_utc(T0 + timedelta(milliseconds=40)) == "2026-11-22T09:00:00.040000Z"
    winter = local_text(T0 + timedelta(milliseconds=40), "Europe/Paris")
    assert winter == "22/11/2026 10:00:00,040 (UTC+01:00)"
    summer = local_text(datetime(2026, 7, 14, 8, 0, tzinfo=UTC), "Europe/Paris")
    assert summer == "14/07/2026 10:00:00,000 (UTC+02:00)"


# -- checksums and signature -------------------------------------------------------------


def test_sums_use_the_coreutils_format() -> None:
    files = [OutputFile("videos/b.mp4", 3, "1" * 64), OutputFile("a.txt", 1, "2" * 64)]
    text = sums_text(files).decode()
    assert text == f"{'2' * 64}  a.txt\n{'1' * 64}  videos/b.mp4\n"
    sums, bad = parse_sums(text + "garbage\n\n" + f"{'3' * 64} *binary.bin\n")
    assert sums == {"a.txt": "2" * 64, "videos/b.mp4": "1" * 64, "binary.bin": "3" * 64}
    assert bad == ["garbage"]


def test_signing_key_is_created_once_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signature-extraits.pem"
    first = Signer.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Signer.load_or_create(path)
    assert again.public_pem() == first.public_pem()
    assert re.fullmatch(r"SHA256:([0-9a-f]{4}:){15}[0-9a-f]{4}", first.fingerprint())
    sig = first.sign(b"manifest")
    assert len(sig) == 64
    key = load_public_pem(first.public_pem(), "test")
    assert signature_valid(key, sig, b"manifest")
    assert not signature_valid(key, sig, b"manifesT")
    assert fingerprint(key) == first.fingerprint()
    (tmp_path / "bad.pem").write_text("pas une clé")
    with pytest.raises(VmsError, match="Clé de signature des extraits illisible"):
        Signer.load_or_create(tmp_path / "bad.pem")
    with pytest.raises(VmsError, match="Clé publique invalide"):
        load_public_pem(b"-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n", "x")


# -- manifest ----------------------------------------------------------------------------


def test_manifest_records_the_request_the_cameras_the_sources_and_every_file(
    bundle: Path, signer: Signer
) -> None:
    m = json.loads((bundle / "manifest.json").read_text("utf-8"))
    assert m["format"] == "vms-extrait" and m["version"] == 1
    assert m["installation"] == "CSU de Saint-Martin"
    assert m["signing_key"]["fingerprint"] == signer.fingerprint()
    e = m["export"]
    assert (e["id"], e["motive"], e["service"], e["officer"], e["reference"]) == (
        7, "vol à l'arraché", "Commissariat de Saint-Martin", "OPJ Martin", "PV 2026/00123",
    )  # fmt: skip
    assert (e["requested_by"], e["approved_by"]) == ("operateur.dupont", "superviseure.durand")
    assert e["created_at"] == "2026-11-23T14:30:05.123000Z"
    assert e["requested_range"] == {
        "start": "2026-11-22T09:00:00.000000Z",
        "end": "2026-11-22T09:01:00.000000Z",
    }
    assert m["journal"] == {"audit_seq": 1234, "audit_hash": "ef" * 32}
    assert m["software"]["name"] == "vms"
    (cam,) = m["cameras"]
    assert (cam["id"], cam["name"], cam["location"], cam["commune"]) == (
        "cam1", "Place de la Mairie", "angle rue Victor-Hugo", "Saint-Martin",
    )  # fmt: skip
    assert cam["covered_range"] == {
        "start": "2026-11-22T09:00:00.000000Z",
        "end": "2026-11-22T09:00:46.000000Z",
    }
    assert cam["gaps"] == [
        {
            "start": "2026-11-22T09:00:08.000000Z",
            "end": "2026-11-22T09:00:38.000000Z",
            "cause": "stall",
            "cause_fr": "flux interrompu (plus d'images reçues)",
            "detail": "",
        }
    ]
    assert cam["not_recorded"][0]["start"] == "2026-11-22T09:00:08.000000Z"
    (f,) = cam["files"]
    assert [(p["media_start_s"], p["media_end_s"], p["start"]) for p in f["timeline"]] == [
        (0.0, 8.0, "2026-11-22T09:00:00.000000Z"),
        (8.0, 16.0, "2026-11-22T09:00:38.000000Z"),
    ]
    assert [s["key"] for s in cam["segments"]] == [s.key for s in SEGS]
    assert all(
        s["sha256"] == "ab" * 32 and s["sha256_plaintext"] == "cd" * 32 for s in cam["segments"]
    )
    listed = {x["path"]: x for x in m["files"]}
    assert set(listed) == {"videos/cam1.mp4", "lecteur.html", "LISEZMOI.txt", "cle-publique.pem"}
    assert listed["videos/cam1.mp4"]["bytes"] == 256 * 64


def test_journal_summary_names_what_was_handed_over(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    result = BundleResult(bundle, None, (), manifest, "12" * 32)
    summary = result.journal_summary()
    assert summary["export_id"] == 7 and summary["exporter"] == "operateur.dupont"
    assert summary["camera_ids"] == ["cam1"]
    assert summary["duration_s"] == {"cam1": 16.0}
    assert summary["manifest_sha256"] == "12" * 32


# -- verification ------------------------------------------------------------------------


def test_intact_bundle_verifies_with_the_given_key(bundle: Path, signer: Signer) -> None:
    report = verify_bundle(bundle, signer.public_pem())
    assert report.ok, report.problems
    assert report.files_checked == 7
    assert not report.key_from_bundle
    assert report.key_fingerprint == signer.fingerprint()
    text = format_report(report)
    assert text.startswith("EXTRAIT INTÈGRE : signature valide, 7 fichiers vérifiés")
    assert "Extrait n° 7, créé le 23/11/2026 15:30:05,123 (UTC+01:00)" in text


def test_bundle_key_alone_verifies_with_a_warning(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert report.ok and report.key_from_bundle
    assert any("clé publique jointe à l'extrait" in n and "faussaire" in n for n in report.notes)


def test_one_flipped_byte_of_the_video_fails(bundle: Path, signer: Signer) -> None:
    flip(bundle / "videos" / "cam1.mp4", 5000)
    report = verify_bundle(bundle, signer.public_pem())
    assert not report.ok
    assert report.problems == [
        "Empreinte SHA-256 différente pour videos/cam1.mp4 : fichier modifié.",
    ]
    assert format_report(report).startswith("EXTRAIT NON CONFORME : 1 problème(s) détecté(s).")


def test_one_flipped_byte_of_the_manifest_fails(bundle: Path, signer: Signer) -> None:
    text = (bundle / "manifest.json").read_bytes()
    flip(bundle / "manifest.json", text.index(b"OPJ Martin"))
    report = verify_bundle(bundle, signer.public_pem())
    assert not report.ok
    assert report.problems[0].startswith("SIGNATURE INVALIDE")
    assert "Empreinte SHA-256 différente pour manifest.json : fichier modifié." in report.problems


def test_a_forger_replacing_manifest_and_key_is_caught_by_the_real_key(
    bundle: Path, signer: Signer
) -> None:
    forger = Signer.generate()
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    manifest["export"]["officer"] = "quelqu'un d'autre"
    data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    (bundle / "manifest.json").write_bytes(data)
    (bundle / "manifest.sig").write_bytes(forger.sign(data))
    (bundle / "cle-publique.pem").write_bytes(forger.public_pem())
    # with its own key the bundle looks signed (hence the warning)...
    alone = verify_bundle(bundle)
    assert alone.key_from_bundle and alone.key_fingerprint == forger.fingerprint()
    # ...the installation's key exposes it
    report = verify_bundle(bundle, signer.public_pem())
    assert not report.ok
    assert report.problems[0].startswith("SIGNATURE INVALIDE")
    assert any("diffère de la clé fournie" in n for n in report.notes)


def test_missing_and_unlisted_files_fail(bundle: Path, signer: Signer) -> None:
    (bundle / "LISEZMOI.txt").unlink()
    (bundle / "videos" / "ajout.mp4").write_bytes(b"x")
    report = verify_bundle(bundle, signer.public_pem())
    assert not report.ok
    assert "Fichier absent : LISEZMOI.txt" in report.problems
    assert "Fichier non prévu dans l'extrait : videos/ajout.mp4" in report.problems
    assert "Fichier absent de SHA256SUMS : videos/ajout.mp4" in report.problems


def test_tampered_sums_fail(bundle: Path, signer: Signer) -> None:
    sums = (bundle / "SHA256SUMS").read_text()
    (bundle / "SHA256SUMS").write_text(sums.replace("  lecteur.html", "  lecteur.htm") + "zz\n")
    report = verify_bundle(bundle, signer.public_pem())
    assert not report.ok
    assert "Fichier absent : lecteur.htm" in report.problems
    assert "Fichier absent de SHA256SUMS : lecteur.html" in report.problems
    assert "Ligne illisible dans SHA256SUMS : zz" in report.problems


def test_zip_verifies_and_a_flipped_byte_inside_fails(bundle: Path, signer: Signer) -> None:
    target = bundle.parent / "extrait-7.zip"
    digest = zip_bundle(bundle, "extrait-7", CREATED, "Europe/Paris", target)
    assert len(digest) == 64
    with zipfile.ZipFile(target) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert "extrait-7/videos/cam1.mp4" in zf.namelist()
    assert verify_bundle(target, signer.public_pem()).ok
    data = target.read_bytes()
    flip(target, data.index(bytes(range(256))) + 100)  # inside the stored video
    report = verify_bundle(target, signer.public_pem())
    assert not report.ok
    assert any("videos/cam1.mp4" in p for p in report.problems)


def test_zip_with_unsafe_names_is_refused(bundle: Path, signer: Signer, tmp_path: Path) -> None:
    target = tmp_path / "piege.zip"
    zip_bundle(bundle, "extrait-7", CREATED, "Europe/Paris", target)
    with zipfile.ZipFile(target, "a") as zf:
        zf.writestr("extrait-7/../../etc/evil", b"x")
    report = verify_bundle(target, signer.public_pem())
    assert "Nom de fichier refusé dans l'archive : extrait-7/../../etc/evil" in report.problems


def test_unreadable_bundle_is_reported(tmp_path: Path) -> None:
    (tmp_path / "faux.zip").write_bytes(b"pas une archive")
    report = verify_bundle(tmp_path / "faux.zip")
    assert not report.ok
    assert report.problems[0].startswith("Extrait illisible")


# -- player, read-me, CLI ------------------------------------------------------------------


def test_player_embeds_its_data_and_loads_nothing_from_the_network(
    tmp_path: Path, signer: Signer
) -> None:
    evil = ExportCamera("cam1", "Mairie </script><script>alert(1)</script>", "parvis", "X")
    root = make_bundle(tmp_path / "b", signer, request(cameras=(evil,)))
    html = (root / "lecteur.html").read_text("utf-8")
    assert not re.search(r"(?i)\b(?:https?|wss?|ftp):|<link|@import|url\(", html)
    assert "<script>alert(1)" not in html
    data = json.loads(re.search(r'<script id="donnees" type="application/json">(.*?)</script>',
                                html, re.S).group(1))  # type: ignore[union-attr]  # fmt: skip
    cam = data["cameras"][0]
    assert cam["name"] == evil.name and cam["location"] == "parvis"
    assert data["timezone"] == "Europe/Paris"
    (f,) = cam["files"]
    assert f["path"] == "videos/cam1.mp4"
    wall = T0.timestamp() * 1000
    assert f["segments"][2] == [8.0, wall + 38_000, 100]  # media 8 s = 09:00:38
    assert f["pieces"] == [[0.0, 8.0, wall, 200], [8.0, 16.0, wall + 38_000, 200]]
    assert cam["gaps"] == [[wall + 8_000, wall + 38_000, "flux interrompu (plus d'images reçues)"]]
    for word in ("Image précédente", "Lecture arrière", "Vitesse", "Rechercher", "ArrowRight"):
        assert word.lower() in html.lower()


def test_readme_explains_in_french(bundle: Path, signer: Signer) -> None:
    text = (bundle / "LISEZMOI.txt").read_text("utf-8")
    assert "EXTRAIT DE VIDÉOPROTECTION n° 7" in text
    assert "Place de la Mairie (identifiant cam1) — angle rue Victor-Hugo — Saint-Martin" in text
    assert (
        "Sans image du 22/11/2026 10:00:08,000 (UTC+01:00) au 22/11/2026 10:00:38,000 "
        "(UTC+01:00) : flux interrompu (plus d'images reçues)." in text
    )
    assert "sha256sum -c SHA256SUMS" in text and "openssl pkeyutl -verify" in text
    assert signer.fingerprint() in text
    assert "\r\n" in (bundle / "LISEZMOI.txt").read_bytes().decode()  # readable on Windows
    # the read-me and the player only show what the signed manifest says
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    assert readme.render(manifest) == text.replace("\r\n", "\n")
    assert player.render(manifest) == (bundle / "lecteur.html").read_text("utf-8")


def test_cli_verify_prints_french_and_exits_0_or_1(
    bundle: Path, signer: Signer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["export", "verify", str(bundle), "--cle", "k.pem"])
    assert (args.command, args.export_command, args.bundle, args.cle) == (
        "export", "verify", bundle, Path("k.pem"),
    )  # fmt: skip
    key = tmp_path / "cle.pem"
    key.write_bytes(signer.public_pem())
    assert verify_command(bundle, key) == 0
    assert capsys.readouterr().out.startswith("EXTRAIT INTÈGRE")
    flip(bundle / "videos" / "cam1.mp4", 10)
    assert verify_command(bundle, key) == 1
    out = capsys.readouterr().out
    assert "EXTRAIT NON CONFORME" in out and "videos/cam1.mp4" in out
    assert verify_command(bundle, tmp_path / "absente.pem") == 1
    assert "Clé publique illisible" in capsys.readouterr().out


# -- overlay filter (no ffmpeg run here) ---------------------------------------------------


def test_overlay_filter_shows_each_piece_with_its_own_wall_offset(tmp_path: Path) -> None:
    # option level escapes \ ' : then graph level escapes \ ' [ ] , ;
    assert _escape("a:b'c,d") == "a\\\\:b\\\\\\'c\\,d"
    pieces = group_pieces(PLACED)
    text = OverlayText("Mairie — parvis", "Extrait n° 7 — PV — exporté par dupont")
    script = filter_script(pieces, text, 720, Path("/polices/Déjà Vu:1.ttf"), tmp_path)
    assert script.count("drawtext=") == 4
    assert "enable='gte(t\\,-1.000000)*lt(t\\,7.999500)'" in script
    assert "enable='gte(t\\,7.999500)*lt(t\\,1000000000000.000000)'" in script
    assert "fontfile=/polices/Déjà Vu\\\\:1.ttf:" in script
    assert (tmp_path / "titre.txt").read_text("utf-8") == "Mairie — parvis"
    first = (tmp_path / "heure-0.txt").read_text()
    second = (tmp_path / "heure-1.txt").read_text()
    t0 = T0.timestamp()
    assert f"localtime:{t0 + 0.00001:.6f}:" in first
    # after the hole, media 8 s is wall 09:00:38: offset = T0 + 30 s
    assert f"localtime:{t0 + 30.00001:.6f}:" in second
