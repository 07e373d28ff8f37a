"""Writes pillow_resize.json: Pillow's BOX and BICUBIC resizes of a synthetic RGB image, the reference that
ImageResize must match bit for bit (Lumina-mGPT preprocesses with PIL). Run: /usr/bin/python3 pillow_resize.py (Debian python3-pil 9.4)."""
import base64
import json
import PIL
from PIL import Image


def synthetic(width, height):
    # The same formula as PillowResizeTests.Synthetic: sharp edges and high frequencies, every level used.
    data = bytes(((x * 73 + y * 151 + c * 29) ^ (x * y)) & 255
                 for y in range(height) for x in range(width) for c in range(3))
    return Image.frombytes("RGB", (width, height), data)


CASES = [
    ("bicubic", 61, 47, 23, 19),
    ("bicubic", 13, 11, 31, 29),
    ("bicubic", 40, 30, 97, 17),
    ("bicubic", 64, 64, 16, 16),
    ("bicubic", 150, 100, 48, 32),
    ("box", 63, 45, 31, 22),
    ("box", 64, 48, 32, 24),
    ("box", 50, 30, 17, 11),
]

cases = []
for name, w, h, tw, th in CASES:
    resample = Image.BICUBIC if name == "bicubic" else Image.BOX
    out = synthetic(w, h).resize((tw, th), resample=resample)
    cases.append({"filter": name, "from": [w, h], "to": [tw, th], "rgb": base64.b64encode(out.tobytes()).decode()})

with open("pillow_resize.json", "w") as f:
    json.dump({"pillow": PIL.__version__, "cases": cases}, f, indent=1)
