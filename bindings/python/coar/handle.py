"""What Engine and Concept share: an opaque libcoar handle that close(), `with` or the garbage collector frees once."""

import ctypes

from . import _native
from .errors import check


class NativeHandle:
    """Owns one handle; subclasses name the library function that frees it."""

    _free_function = ""
    _kind = "handle"

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)

    def close(self):
        """Frees the handle now; closing twice is harmless."""
        if self._handle is not None:
            check(getattr(_native.lib(), self._free_function)(self._handle))
            self._handle = None

    def _live(self):
        if self._handle is None:
            raise ValueError(f"the {self._kind} is closed")
        return self._handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Frees a handle nobody closed; at interpreter exit the library may already be unloaded.
        if getattr(self, "_handle", None) is not None:
            try:
                getattr(_native.lib(), self._free_function)(self._handle)
            except Exception:  # noqa: BLE001 - nothing to report to from a finalizer
                pass
            self._handle = None
