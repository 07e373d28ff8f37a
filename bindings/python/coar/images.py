"""Generated images, copied out of libcoar's result: numpy arrays where numpy is installed, else bytes."""

import ctypes

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None


class GeneratedImage:
    """
    One image: `pixels` is a numpy uint8 array [height, width, 3] (RGB) when numpy is installed, else `bytes` of
    height * width * 3; `tokens` the image-phase tokens (a numpy int32 array, else a list); `seed` reproduces it.
    """

    __slots__ = ("width", "height", "pixels", "tokens", "seed")

    def __init__(self, native, numpy):
        self.width, self.height, self.seed = native.width, native.height, native.seed
        size = native.width * native.height * 3
        raw = ctypes.string_at(native.rgb, size)
        tokens = native.tokens[:native.token_count]
        if numpy is not None:
            self.pixels = numpy.frombuffer(raw, dtype=numpy.uint8).reshape(native.height, native.width, 3).copy()
            self.tokens = numpy.array(tokens, dtype=numpy.int32)
        else:
            self.pixels = raw
            self.tokens = list(tokens)

    def __array__(self, dtype=None, copy=None):
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return self.pixels if dtype is None else self.pixels.astype(dtype)

    def __repr__(self):
        return f"GeneratedImage({self.width}x{self.height}, seed {self.seed})"


def copy_images(images_pointer, numpy=_np):
    """The images of a coar_images result as GeneratedImage objects (the caller frees the result)."""
    images = images_pointer.contents
    return [GeneratedImage(images.images[i], numpy) for i in range(images.count)]


def numpy_module():
    return _np
