"""Faces for tests, the benchmark and the demo, built offline from the real photos that ship in packages.

scikit-image's astronaut (Eileen Collins) and matplotlib's grace_hopper.jpg are the two portraits the
ID-card generator puts on cards 1 and 2 (`tongban.registry.generator.photos`). A "camera burst" is made
from a portrait by placing it in a 640 × 480 frame and warping the face so the nose moves sideways as
in a head turn (a smooth displacement centred on the nose: what the 5 landmarks see of a turn). Still
frames of the same portrait are the replayed photo an attacker would hold up.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

import numpy as np

FRAME_W, FRAME_H = 640, 480


@cache
def portrait(name: str) -> np.ndarray:
    """The full portrait as RGB: "astronaut" or "grace_hopper"."""
    from PIL import Image

    if name == "astronaut":
        with resources.files("skimage.data").joinpath("astronaut.png").open("rb") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    if name == "grace_hopper":
        import matplotlib

        path = resources.files(matplotlib).joinpath("mpl-data/sample_data/grace_hopper.jpg")
        with path.open("rb") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    raise ValueError(name)


# The head and shoulders of each portrait (top, bottom, left, right), framed as a selfie would be.
_SELFIE_BOX = {"astronaut": (0, 330, 60, 380), "grace_hopper": (0, 520, 40, 470)}


def jpeg(pixels: np.ndarray, quality: int = 85) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def selfie(name: str) -> np.ndarray:
    """The portrait's head and shoulders centred in a FRAME_W × FRAME_H frame on a grey wall."""
    from PIL import Image

    top, bottom, left, right = _SELFIE_BOX[name]
    crop = Image.fromarray(portrait(name)[top:bottom, left:right])
    scale = (FRAME_H * 0.95) / crop.height
    crop = crop.resize((int(crop.width * scale), int(crop.height * scale)), Image.Resampling.BICUBIC)
    frame = Image.new("RGB", (FRAME_W, FRAME_H), (188, 190, 186))
    frame.paste(crop, ((FRAME_W - crop.width) // 2, FRAME_H - crop.height))
    return np.asarray(frame)


def turned(pixels: np.ndarray, box: tuple[int, int, int, int], amount: float) -> np.ndarray:
    """`pixels` with the face in `box` (left, top, right, bottom) turned: the nose region moves by
    `amount` face widths (> 0 towards the image's right: the person turning to their own left)."""
    from scipy import ndimage

    left, top, right, bottom = box
    width = right - left
    cx, cy = (left + right) / 2, top + 0.62 * (bottom - top)
    sigma = 0.33 * width
    ys, xs = np.mgrid[0:pixels.shape[0], 0:pixels.shape[1]].astype(np.float64)
    shift = amount * width * np.exp(-(((xs - cx) ** 2) + ((ys - cy) ** 2) * 0.5) / (2 * sigma**2))
    out = np.empty_like(pixels)
    for channel in range(pixels.shape[2]):
        out[..., channel] = ndimage.map_coordinates(pixels[..., channel], [ys, xs - shift], order=1, mode="nearest")
    return out


def head_turn_burst(name: str, *, direction: str, frames: int = 8) -> list[np.ndarray]:
    """A recorded burst: frontal frames, then the head turning `direction` ("turn_left" / "turn_right")."""
    from tongban.face import matcher

    base = selfie(name)
    facts = matcher.analyse(base, encode=False)
    if facts.box is None:
        raise RuntimeError(f"no face in the {name} selfie")
    sign = 1.0 if direction == "turn_left" else -1.0
    front = max(2, frames // 3)
    steps = frames - front
    return [base] * front + [turned(base, facts.box, sign * 0.22 * (i + 1) / steps) for i in range(steps)]


def still_burst(name: str, *, frames: int = 8) -> list[np.ndarray]:
    """A printed photo held up to the camera: the same frontal picture every frame."""
    return [selfie(name)] * frames


# -- augmentations of the same face (bench/face.py) -------------------------------------------------------

def augment(pixels: np.ndarray, kind: str, level: float) -> np.ndarray:
    """One augmentation: crop (fraction kept), rotate (degrees), light (gain), blur (radius), jpeg (quality)."""
    from PIL import Image, ImageFilter

    image = Image.fromarray(pixels)
    if kind == "crop":
        w, h = image.size
        dw, dh = int(w * (1 - level) / 2), int(h * (1 - level) / 2)
        image = image.crop((dw, dh, w - dw, h - dh))
    elif kind == "rotate":
        image = image.rotate(level, resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))
    elif kind == "light":
        arr = np.clip(np.asarray(image, dtype=np.float64) * level, 0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    elif kind == "blur":
        image = image.filter(ImageFilter.GaussianBlur(level))
    elif kind == "jpeg":
        return np.asarray(Image.open(io.BytesIO(jpeg(pixels, int(level)))).convert("RGB"))
    else:
        raise ValueError(kind)
    return np.asarray(image.convert("RGB"))
