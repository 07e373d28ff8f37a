"""Shared fixtures: the package from this checkout, the built-in model, one engine per test module, photos."""

import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import coar  # noqa: E402


@pytest.fixture(scope="session")
def model_dir():
    return coar.builtin_model()


@pytest.fixture(scope="module")
def engine(model_dir):
    with coar.Engine(model_dir, device="cpu") as e:
        yield e


def write_bmp(path, pixels):
    """A 24-bit BMP of an RGB array, a format every decoder reads."""
    height, width, _ = pixels.shape
    row = (width * 3 + 3) & ~3
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", 54 + row * height, 0, 0, 54))
        f.write(struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, row * height, 2835, 2835, 0, 0))
        for y in range(height - 1, -1, -1):
            line = pixels[y, :, ::-1].tobytes()
            f.write(line + b"\0" * (row - len(line)))


@pytest.fixture(scope="module")
def photos(engine, tmp_path_factory):
    """Two 64x64 images the engine made, as BMP files: a subject's photos, or reference images."""
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for im in engine.generate("a small red ball", width=64, height=64, count=2, seed=3):
        path = folder / f"ball{im.seed}.bmp"
        write_bmp(path, im.pixels)
        paths.append(str(path))
    return paths
