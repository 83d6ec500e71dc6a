"""Card photos: small real face images taken from installed packages (no network, no model weights).

scikit-image's astronaut (Eileen Collins) and matplotlib's grace_hopper.jpg are full portraits;
scikit-image's lfw_subset.npy holds 100 small real faces from Labeled Faces in the Wild (images
100-199 there are non-faces and are not used). Cards reference a photo by id, so many people share
one and face matching later can know which face a card shows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Photo:
    id: int
    origin: str
    image: bytes  # JPEG
    width: int
    height: int


# The face region of each portrait (top, bottom, left, right), ID-photo proportions (about 4:5).
_ASTRONAUT_BOX = (0, 270, 110, 326)
_HOPPER_BOX = (20, 400, 100, 404)
# ID photos are 358 x 441 at 350 dpi; these are kept small, a quarter of the area.
_PORTRAIT_SIZE = (180, 220)
_LFW_SIZE = (100, 124)


def _jpeg(pixels: np.ndarray, size: tuple[int, int]) -> tuple[bytes, int, int]:
    from PIL import Image

    image = Image.fromarray(pixels).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue(), image.width, image.height


def _crop(pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = box
    return pixels[top:bottom, left:right]


@cache
def photos() -> tuple[Photo, ...]:
    """All card photos, ids from 1; the same list (and bytes) on every run."""
    from PIL import Image

    result: list[Photo] = []
    with resources.files("skimage.data").joinpath("astronaut.png").open("rb") as handle:
        astronaut = np.asarray(Image.open(handle).convert("RGB"))
    data, w, h = _jpeg(_crop(astronaut, _ASTRONAUT_BOX), _PORTRAIT_SIZE)
    result.append(Photo(1, "skimage:astronaut", data, w, h))

    import matplotlib

    hopper_path = resources.files(matplotlib).joinpath("mpl-data/sample_data/grace_hopper.jpg")
    with hopper_path.open("rb") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    data, w, h = _jpeg(_crop(hopper, _HOPPER_BOX), _PORTRAIT_SIZE)
    result.append(Photo(2, "matplotlib:grace_hopper", data, w, h))

    with resources.files("skimage.data").joinpath("lfw_subset.npy").open("rb") as handle:
        faces = np.load(handle)[:100]
    for index, face in enumerate(faces):
        pixels = face if face.dtype == np.uint8 else (np.clip(face, 0.0, 1.0) * 255).astype(np.uint8)
        data, w, h = _jpeg(pixels, _LFW_SIZE)
        result.append(Photo(len(result) + 1, f"skimage:lfw_subset[{index}]", data, w, h))
    return tuple(result)
