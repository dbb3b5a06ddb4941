"""Sample footage for the simulated cameras, encoded once and then only copied.

``vtest.avi`` (pedestrians on a plaza, from Debian's opencv-doc; scripts/setup.sh puts
it in var/footage) is encoded to H.264 Annex-B elementary streams with an access-unit
delimiter before each frame, so the simulator can loop them frame by frame without
encoding: main 1280x720 @ 25 fps, sub 640x360 @ 25 fps, a keyframe every 25 frames.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from vms.errors import unavailable

SOURCE = "vtest.avi"
VARIANTS = {
    "main": ("1280x720", "2000k"),
    "sub": ("640x360", "500k"),
}


def prepare_footage(footage_dir: Path, seconds: int = 30) -> dict[str, Path]:
    """Return {"main": path, "sub": path}, encoding them on first use."""
    source = footage_dir / SOURCE
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
        tmp = target.with_suffix(".tmp")
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
        subprocess.run(cmd, check=True)
        tmp.replace(target)
    return out
