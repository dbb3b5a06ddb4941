"""Sample footage for the simulated cameras, encoded once and then only copied.

``vtest.avi`` (pedestrians on a plaza, 768x576 @ 10 fps, from Debian's opencv-doc;
scripts/setup.sh puts it in var/footage) is encoded with the ffmpeg CLI to H.264 Annex-B
elementary streams with an access-unit delimiter before each frame and the parameter
sets before each IDR, so the simulator can loop them access unit by access unit without
encoding: main 1280x720 @ 25 fps ~2 Mbit/s, sub 640x360 @ 25 fps ~500 kbit/s, Main
profile, no B-frames, an IDR every 25 frames exactly (closed GOPs; 30 s = 30 GOPs, so
the loop point is a GOP boundary too). About 10 s of CPU, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import vms
from vms.errors import unavailable

SOURCE = "vtest.avi"
# where scripts/setup.sh puts the source, used when footage_dir has no copy of it
DEFAULT_SOURCE = Path(vms.__file__).resolve().parent.parent / "var" / "footage" / SOURCE
VARIANTS = {
    "main": ("1280x720", "2000k"),
    "sub": ("640x360", "500k"),
}


def prepare_footage(footage_dir: Path, seconds: int = 30) -> dict[str, Path]:
    """Return {"main": path, "sub": path} of the looping files in ``footage_dir``,
    encoding them on first use (a file that exists is reused as it is)."""
    footage_dir.mkdir(parents=True, exist_ok=True)
    source = footage_dir / SOURCE
    if not source.exists():
        source = DEFAULT_SOURCE
    out: dict[str, Path] = {}
    for name, (size, bitrate) in VARIANTS.items():
        target = footage_dir / f"loop-{name}.h264"
        out[name] = target
        if target.exists() and target.stat().st_size > 0:
            continue
        if not source.exists():
            raise unavailable(
                f"Vidéo d'exemple absente : {source} (lancez scripts/setup.sh)", str(source)
            )
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise unavailable("ffmpeg est introuvable (lancez scripts/setup.sh)")
        tmp = target.with_suffix(f".{os.getpid()}.tmp")  # concurrent preparers do not clash
        w, h = size.split("x")
        cmd = [
            ffmpeg, "-loglevel", "error", "-y", "-i", str(source), "-t", str(seconds),
            "-vf", f"scale={w}:{h},fps=25", "-c:v", "libx264", "-preset", "veryfast",
            "-profile:v", "main", "-bf", "0", "-g", "25", "-keyint_min", "25",
            "-x264-params", "repeat-headers=1",
            "-sc_threshold", "0", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
            "-pix_fmt", "yuv420p", "-bsf:v", "h264_metadata=aud=insert", "-an",
            "-f", "h264", str(tmp),
        ]  # fmt: skip
        try:
            subprocess.run(cmd, check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            tmp.unlink(missing_ok=True)
            raise unavailable("L'encodage de la vidéo d'exemple a échoué", str(err)) from err
        tmp.replace(target)
    return out
