"""``lecteur.html``: the bundle's offline player (LAW-08), one file, no network.

It plays each camera's MP4 from the bundle's ``videos/`` folder, shows the camera's
name and location and the wall date and time of the frame on screen, steps frame by
frame (buttons and arrow keys), plays fast, slow and backwards, and seeks to a date
and time. Browsers block ``fetch`` on ``file://``, so what it needs from the manifest
(timeline, gaps, names) is embedded as JSON at build time.
"""

from __future__ import annotations

import html
import json
from typing import Any

from vms.evidence.timeline import parse_iso


def _epoch_ms(text: str) -> float:
    return parse_iso(text).timestamp() * 1000


def player_data(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the player needs, taken from the manifest being built."""
    cameras = []
    for cam in manifest["cameras"]:
        by_file: dict[str, list[list[float]]] = {}
        for s in cam["segments"]:
            if s["file"] is None or not s["frames_exported"]:
                continue
            # [media start s, wall ms of that frame, frames]; ends are the next start
            by_file.setdefault(s["file"], []).append(
                [s["media_start_s"], _epoch_ms(s["exported_start"]), s["frames_exported"]]
            )
        files = []
        for f in cam["files"]:
            files.append(
                {
                    "path": f["path"],
                    "overlay": f["overlay_path"],
                    "duration": f["duration_s"],
                    "frames": f["frames"],
                    "segments": by_file.get(f["path"], []),
                    "pieces": [
                        [p["media_start_s"], p["media_end_s"], _epoch_ms(p["start"]), p["frames"]]
                        for p in f["timeline"]
                    ],
                }
            )
        cameras.append(
            {
                "id": cam["id"],
                "name": cam["name"],
                "location": cam["location"],
                "commune": cam["commune"],
                "files": files,
                "gaps": [
                    [_epoch_ms(g["start"]), _epoch_ms(g["end"]), g["cause_fr"]] for g in cam["gaps"]
                ],
            }
        )
    export = manifest["export"]
    return {
        "id": export["id"],
        "reference": export["reference"],
        "service": export["service"],
        "created": _epoch_ms(export["created_at"]),
        "timezone": manifest["timezone"],
        "cameras": cameras,
    }


def _embed(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    # inside <script>: no "</script>", no "<!--"
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(manifest: dict[str, Any]) -> str:
    data = player_data(manifest)
    title = html.escape(f"Extrait n° {data['id']} — {data['reference']}")
    return _TEMPLATE.replace("@@TITLE@@", title).replace("@@DATA@@", _embed(data))


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; media-src 'self' file: blob:; style-src 'unsafe-inline';
  script-src 'unsafe-inline'">
<title>@@TITLE@@</title>
<style>
body { font-family: sans-serif; margin: 0; background: #1d1f21; color: #eee; }
header, main, footer { padding: 8px 16px; }
header h1 { font-size: 1.2em; margin: 4px 0; }
#ecran { position: relative; display: inline-block; max-width: 100%; background: #000; }
video { display: block; max-width: 100%; max-height: 75vh; }
#bandeau { position: absolute; left: 0; top: 0; padding: 4px 8px; background: rgba(0,0,0,.6);
  font-size: 15px; line-height: 1.35; pointer-events: none; }
#heure { font-family: monospace; font-size: 17px; }
.commandes { margin: 8px 0; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
button, select, input { font-size: 14px; }
#etat { color: #fc6; min-height: 1.3em; }
table { border-collapse: collapse; margin-top: 6px; }
td, th { border: 1px solid #555; padding: 2px 6px; font-size: 13px; text-align: left; }
.aide { color: #aaa; font-size: 13px; }
</style>
</head>
<body>
<header>
<h1>@@TITLE@@</h1>
<div class="commandes">
  <label>Caméra <select id="camera"></select></label>
  <label>Version <select id="version"></select></label>
</div>
</header>
<main>
<div id="ecran">
  <video id="video" preload="auto" playsinline></video>
  <div id="bandeau"><div id="nom"></div><div id="lieu"></div><div id="heure"></div></div>
</div>
<div class="commandes">
  <button id="debut" title="Début (touche Début)">|◀ début</button>
  <button id="arriere" title="Lecture arrière">◀◀ arrière</button>
  <button id="image-1" title="Image précédente (flèche gauche)">◀ image</button>
  <button id="lecture" title="Lecture / pause (espace)">▶ lecture</button>
  <button id="image+1" title="Image suivante (flèche droite)">image ▶</button>
  <label>Vitesse <select id="vitesse">
    <option value="0.1">× 0,1</option><option value="0.25">× 0,25</option>
    <option value="0.5">× 0,5</option><option value="1" selected>× 1</option>
    <option value="2">× 2</option><option value="4">× 4</option>
    <option value="8">× 8</option><option value="16">× 16</option>
  </select></label>
  <label>Aller à <input id="cible" type="datetime-local" step="1"></label>
  <button id="aller">Rechercher</button>
</div>
<div id="etat" role="status"></div>
<p class="aide">Touches : espace = lecture/pause ; ← / → = image précédente / suivante ;
Maj + ← / → = une seconde ; Début / Fin. Heures affichées dans le fuseau
<span id="fuseau"></span>. Le fichier vidéo est la copie sans perte de
l'enregistrement ; les interruptions d'enregistrement ne sont pas dans la vidéo : la date et
l'heure affichées viennent du manifeste de l'extrait.</p>
<h2>Périodes enregistrées</h2>
<table id="periodes"><thead><tr><th>Début</th><th>Fin</th><th>Images</th><th></th></tr>
</thead><tbody></tbody></table>
<h2>Interruptions d'enregistrement</h2>
<table id="interruptions"><thead><tr><th>Début</th><th>Fin</th><th>Cause</th></tr></thead>
<tbody></tbody></table>
</main>
<footer class="aide">Lecteur hors ligne de l'extrait : il ne se connecte à aucun réseau.
Vérifiez l'intégrité de l'extrait comme l'explique LISEZMOI.txt.</footer>
<script id="donnees" type="application/json">@@DATA@@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("donnees").textContent);
const $ = (id) => document.getElementById(id);
const video = $("video");
const EPS = 1e-6;
let cam = null, file = null, reverseTimer = null;

const fmt = new Intl.DateTimeFormat("fr-FR", {
  timeZone: D.timezone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  timeZoneName: "short"
});
function wallText(ms) {
  const base = fmt.format(new Date(Math.floor(ms / 1000) * 1000));
  const milli = String(Math.floor(ms - Math.floor(ms / 1000) * 1000)).padStart(3, "0");
  return base.replace(/(\d\d:\d\d:\d\d)/, "$1," + milli);
}
function zoneOffsetMs(utcMs) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-GB", {timeZone: D.timezone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit"}).formatToParts(new Date(utcMs))) parts[p.type] = p.value;
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour,
                         +parts.minute, +parts.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}
function localToUtc(text) {
  const m = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+)(?::(\d+))?/.exec(text);
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let utc = guess - zoneOffsetMs(guess);
  utc = guess - zoneOffsetMs(utc);
  return utc;
}
// [start s, end s, wall ms at start, frame duration s] of each exported segment
function spans(f) {
  const out = [];
  f.segments.forEach((s, i) => {
    const end = i + 1 < f.segments.length ? f.segments[i + 1][0] : f.duration;
    out.push([s[0], end, s[1], (end - s[0]) / Math.max(1, s[2])]);
  });
  return out;
}
function frameAt(t) {
  const ss = file.spans;
  for (let i = 0; i < ss.length; i++) {
    const s = ss[i];
    if (t < s[1] - EPS || i === ss.length - 1) {
      const k = Math.max(0, Math.floor((t - s[0]) / s[3] + 1e-3));
      return {start: s[0] + k * s[3], dur: s[3], wall: s[2] + k * s[3] * 1000};
    }
  }
  return null;
}
function show(t) {
  const f = frameAt(t === undefined ? video.currentTime : t);
  $("heure").textContent = f ? wallText(f.wall) : "";
}
function stopReverse() {
  if (reverseTimer !== null) { clearInterval(reverseTimer); reverseTimer = null; }
}
function seekFrame(delta) {
  stopReverse();
  video.pause();
  const f = frameAt(video.currentTime);
  if (!f) return;
  let t = f.start + delta * f.dur;
  if (delta < 0 && t < f.start - EPS) {
    const g = frameAt(Math.max(0, f.start - f.dur / 2));
    t = g ? g.start : 0;
  }
  t = Math.min(Math.max(0, t), Math.max(0, file.duration - f.dur / 2));
  video.currentTime = t + f.dur / 2;
  show(t + f.dur / 2);
}
function load(camIndex, fileIndex, overlay) {
  stopReverse();
  cam = D.cameras[camIndex];
  const f = cam.files[fileIndex];
  file = Object.assign({}, f, {spans: spans(f)});
  $("nom").textContent = cam.name + " (" + cam.id + ")";
  $("lieu").textContent = cam.location + " — " + cam.commune;
  $("bandeau").style.display = overlay ? "none" : "";
  video.src = overlay ? f.overlay : f.path;
  const periods = $("periodes").tBodies[0];
  periods.textContent = "";
  for (const p of f.pieces) {
    const tr = periods.insertRow();
    tr.insertCell().textContent = wallText(p[2]);
    tr.insertCell().textContent = wallText(p[2] + (p[1] - p[0]) * 1000);
    tr.insertCell().textContent = String(p[3]);
    const b = document.createElement("button");
    b.textContent = "voir";
    b.onclick = () => { video.currentTime = p[0] + EPS; show(p[0]); };
    tr.insertCell().appendChild(b);
  }
  const gaps = $("interruptions").tBodies[0];
  gaps.textContent = "";
  for (const g of cam.gaps) {
    const tr = gaps.insertRow();
    tr.insertCell().textContent = wallText(g[0]);
    tr.insertCell().textContent = wallText(g[1]);
    tr.insertCell().textContent = g[2];
  }
  if (!cam.gaps.length) {
    gaps.insertRow().insertCell().textContent = "aucune dans la plage demandée";
  }
  $("etat").textContent = "";
  show(0);
}
function fillVersions() {
  const sel = $("version");
  sel.textContent = "";
  cam = D.cameras[+$("camera").value];
  cam.files.forEach((f, i) => {
    const label = cam.files.length > 1 ? "partie " + (i + 1) + " — " : "";
    sel.add(new Option(label + "originale (sans perte)", i + ":o"));
    if (f.overlay) sel.add(new Option(label + "avec incrustation", i + ":i"));
  });
  if (!cam.files.length) {
    $("etat").textContent = "Aucun enregistrement de cette caméra dans la plage demandée.";
    video.removeAttribute("src");
    return;
  }
  changeVersion();
}
function changeVersion() {
  const [i, kind] = $("version").value.split(":");
  load(+$("camera").value, +i, kind === "i");
}
D.cameras.forEach((c, i) => $("camera").add(new Option(c.name + " — " + c.location, i)));
$("fuseau").textContent = D.timezone;
$("camera").onchange = fillVersions;
$("version").onchange = changeVersion;
$("lecture").onclick = () => { stopReverse(); if (video.paused) video.play(); else video.pause(); };
$("image-1").onclick = () => seekFrame(-1);
$("image+1").onclick = () => seekFrame(1);
$("debut").onclick = () => { stopReverse(); video.currentTime = 0; show(0); };
$("vitesse").onchange = () => { video.playbackRate = +$("vitesse").value; };
$("arriere").onclick = () => {
  if (reverseTimer !== null) { stopReverse(); return; }
  video.pause();
  const current = frameAt(video.currentTime);
  const stepMs = (current ? current.dur : 0.04) * 1000 / +$("vitesse").value;
  reverseTimer = setInterval(() => {
    if (video.currentTime <= EPS) { stopReverse(); return; }
    const f = frameAt(video.currentTime);
    const t = Math.max(0, (f ? f.start : video.currentTime) - (f ? f.dur : 0.04));
    video.currentTime = t + (f ? f.dur / 2 : 0);
    show(video.currentTime);
  }, Math.max(10, stepMs));
};
$("aller").onclick = () => {
  const utc = localToUtc($("cible").value);
  if (utc === null || !file) return;
  for (const s of file.spans) {
    const endWall = s[2] + (s[1] - s[0]) * 1000;
    if (utc >= s[2] && utc < endWall) {
      video.currentTime = s[0] + (utc - s[2]) / 1000 + EPS;
      $("etat").textContent = "";
      show();
      return;
    }
  }
  const next = file.spans.find((s) => s[2] > utc);
  if (next) {
    video.currentTime = next[0] + EPS;
    $("etat").textContent = "Pas d'image enregistrée à cette heure : lecture à partir de "
      + wallText(next[2]) + ".";
  } else {
    $("etat").textContent = "Pas d'image enregistrée à cette heure ni après dans cet extrait.";
  }
  show();
};
document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  if (e.key === " ") { e.preventDefault(); $("lecture").click(); }
  else if (e.key === "ArrowLeft") {
    e.preventDefault();
    if (e.shiftKey) { video.currentTime = Math.max(0, video.currentTime - 1); show(); }
    else seekFrame(-1);
  } else if (e.key === "ArrowRight") {
    e.preventDefault();
    if (e.shiftKey) { video.currentTime = Math.min(file.duration, video.currentTime + 1); show(); }
    else seekFrame(1);
  } else if (e.key === "Home") { video.currentTime = 0; show(0); }
  else if (e.key === "End") { video.currentTime = file.duration; show(); }
});
video.addEventListener("timeupdate", () => show());
video.addEventListener("seeked", () => show());
video.addEventListener("error", () => {
  $("etat").textContent = "Lecture impossible de " + video.getAttribute("src")
    + " : ouvrez ce fichier depuis le dossier décompressé de l'extrait,"
    + " ou lisez la vidéo avec VLC.";
});
if ("requestVideoFrameCallback" in video) {
  const tick = (now, meta) => { show(meta.mediaTime); video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
}
fillVersions();
</script>
</body>
</html>
"""
