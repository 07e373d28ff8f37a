"""
CoAR.Engine from Python: Lumina-mGPT image generation and CoAR concept training through libcoar.so (ctypes, no
compiled extension).

    import coar
    with coar.Engine(coar.builtin_model(), device="cpu") as engine:
        images = engine.generate("a red apple on a wooden table", width=256, height=256, count=2, seed=1)
        images[0].pixels    # numpy uint8 [256, 256, 3] (bytes without numpy)

The library is found through COAR_LIBRARY, a libcoar.so inside this package, or the system's loader path.
"""

import ctypes

from . import _native
from .cancel import CancelFlag
from .concept import Concept
from .engine import Engine, estimate_memory
from .errors import (BadFileError, BusyError, CancelledError, CoarError, DeviceError, InternalError, InvalidArgumentError,
                     InvalidHandleError, IoError, NotFoundError, OutOfMemoryError, check)
from .images import GeneratedImage
from .progress import ProgressReport, TrainStepReport


def version():
    """libcoar's version string."""
    return _native.lib().coar_version().decode()


def api_version():
    """The C API version libcoar implements: (major, minor)."""
    v = _native.lib().coar_api_version()
    return v // 1000, v % 1000


def builtin_model():
    """The built-in tiny model's directory (random weights: noise pictures), created on first use."""
    path = ctypes.c_char_p()
    check(_native.lib().coar_builtin_model(ctypes.byref(path)))
    return path.value.decode()


__all__ = [
    "Engine", "Concept", "CancelFlag", "GeneratedImage", "ProgressReport", "TrainStepReport", "estimate_memory",
    "version", "api_version", "builtin_model",
    "CoarError", "InvalidArgumentError", "InvalidHandleError", "NotFoundError", "BadFileError", "DeviceError",
    "OutOfMemoryError", "CancelledError", "BusyError", "IoError", "InternalError",
]
