"""A cancel flag another thread can set to stop a long call (load, generate, train) at its next safe point."""

import ctypes


class CancelFlag:
    """Pass as cancel=...; call set() from any thread. The call then raises CancelledError. reset() re-arms it."""

    def __init__(self):
        self._value = ctypes.c_int32(0)

    def set(self):
        self._value.value = 1

    def reset(self):
        self._value.value = 0

    @property
    def is_set(self):
        return self._value.value != 0

    def pointer(self):
        return ctypes.pointer(self._value)
