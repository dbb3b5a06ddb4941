"""A police request served end to end through the operator service: request with
motive and destination, second approval, production by the export worker while the
journal shows progress, download, offline verification with the published key; the
delivered bundle is destroyed once its retention is over, and logged."""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.fixtures.recorded import Recorded
from tests.fixtures.web import WebEnv
from vms.cli import main
from vms.domain.clock import SystemClock
from vms.evidence import verify_bundle
from vms.evidence.worker import ExportWorker
from vms.storage.reader import SegmentReader

pytestmark = pytest.mark.integration


def wait_status(s: object, url: str, wanted: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        row = s.get(url).json()  # type: ignore[attr-defined]
        if row["status"] == wanted:
            return row  # type: ignore[no-any-return]
        assert row["status"] not in ("echec", "refuse"), row
        assert time.monotonic() < deadline, row
        time.sleep(0.3)


def test_request_approve_produce_download_verify_destroy(
    recorded_web: tuple[WebEnv, Recorded], tmp_path: Path
) -> None:
    web, rec = recorded_web
    rights = [("playback", "commune-b"), ("export", "commune-b")]
    web.user("op.b1", "operator", "csd", rights)
    web.user("op.b2", "supervisor", "csd", rights)
    one, two = web.login("op.b1"), web.login("op.b2")
    segs = rec.segments["b1"]
    body = {
        "cameras": ["b1"], "from": segs[0].start_at.isoformat(),
        "to": segs[-1].end_at.isoformat(), "motive": "Rixe devant la gare",
        "service": "gendarmerie", "officer": "Adjudant Leroy, BR de Mâcon",
        "reference": "PV 2026/00042",
    }  # fmt: skip
    export = one.post(f"{web.url}/api/v1/exports", json=body).json()
    url = f"{web.url}/api/v1/exports/{export['id']}"
    assert two.post(url + "/decision", json={"approve": True}).status_code == 200

    assert rec.store is not None
    worker = ExportWorker(
        rec.dsn, SegmentReader([rec.store]).read, rec.export_dir, rec.signer, SystemClock(),
        poll_s=0.2,
    )  # fmt: skip
    worker.start()
    try:
        ready = wait_status(one, url, "pret")
    finally:
        worker.stop()
    assert ready["progress"] == 1 and ready["download_url"]
    r = one.get(web.url + str(ready["download_url"]))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    bundle = tmp_path / "extrait.zip"
    bundle.write_bytes(r.content)
    key = one.get(f"{web.url}/api/v1/exports-key").content
    report = verify_bundle(bundle, key)
    assert report.ok, report.problems
    # the bundle's MP4 holds every recorded frame
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read(next(n for n in z.namelist() if n.endswith("manifest.json"))))
        video = next(n for n in z.namelist() if n.endswith(".mp4"))
        (tmp_path / "b1.mp4").write_bytes(z.read(video))
    assert manifest["export"]["reference"] == "PV 2026/00042"
    frames = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(tmp_path / "b1.mp4")],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert int(frames) == sum(s.frames for s in segs)

    actions = [a for (a,) in web.sql("SELECT action FROM audit WHERE target = %s ORDER BY seq",
                                     (f"export:{export['id']}",))]  # fmt: skip
    assert actions == ["export.request", "export.approve", "export.produce", "export.download"]
    journal = web.sql("SELECT delivered_at IS NOT NULL, expires_at > now() FROM exports")
    assert journal == [(True, True)]

    # retention over: the worker destroys the bundle and logs it
    web.sql("UPDATE exports SET expires_at = now() - interval '1 second'")
    worker = ExportWorker(
        rec.dsn, SegmentReader([rec.store]).read, rec.export_dir, rec.signer, SystemClock(),
        poll_s=0.2,
    )  # fmt: skip
    worker.start()
    try:
        wait_status(one, url, "detruit", timeout=20)
    finally:
        worker.stop()
    assert not any(rec.export_dir.iterdir())
    assert one.get(url + "/bundle").status_code == 409
    destroyed = web.sql("SELECT detail FROM audit WHERE action = 'export.destroy'")
    assert destroyed and destroyed[0][0]["reference"] == "PV 2026/00042"  # type: ignore[index]


def test_cli_requests_produces_with_progress_lists_and_verifies(
    recorded_web: tuple[WebEnv, Recorded], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web, rec = recorded_web
    assert rec.store is not None
    config = tmp_path / "vms.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[database]\ndsn = "{rec.dsn}"\n'
        f'[[storage.replicas]]\nname = "dc1"\nkind = "fs"\npath = "{rec.store.root}"\n'
        f'[[storage.replicas]]\nname = "dc2"\nkind = "fs"\npath = "{tmp_path / "dc2"}"\n',
        encoding="utf-8",
    )
    segs = rec.segments["a1"]
    code = main([
        "--config", str(config), "export", "create", "--cameras", "a1",
        "--from", segs[0].start_at.isoformat(), "--to", segs[-1].end_at.isoformat(),
        "--motive", "Réquisition du parquet", "--service", "justice",
        "--officer", "Substitut Morel", "--reference", "RP 26/1234", "--by", "admin",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "100.0 %" in out and "prêt" in out
    bundle = Path(out.split("prêt : ")[1].split()[0])
    assert main(["--config", str(config), "export", "key"]) == 0
    key = capsys.readouterr().out.split("empreinte")[0].encode()
    assert main(["export", "verify", str(bundle), "--cle", str(tmp_path / "k.pem")]) != 0
    (tmp_path / "k.pem").write_bytes(key)
    capsys.readouterr()
    assert main(["export", "verify", str(bundle), "--cle", str(tmp_path / "k.pem")]) == 0
    assert "EXTRAIT INTÈGRE" in capsys.readouterr().out
    assert main(["--config", str(config), "export", "list"]) == 0
    assert "RP 26/1234" in capsys.readouterr().out
    actions = web.sql("SELECT actor, action FROM audit WHERE target LIKE 'export:%%' ORDER BY seq")
    assert actions == [("cli:admin", "export.request"), ("systeme:extraits", "export.produce")]
