"""coar_status codes as Python exceptions: each failure of the library raises one, with coar_last_error()'s message."""

from . import _native


class CoarError(Exception):
    """A call into libcoar failed. `status` is the coar_status name, e.g. "COAR_ERROR_BAD_FILE"."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(CoarError, ValueError):
    """An argument or option is out of range or invalid (COAR_ERROR_INVALID_ARGUMENT)."""


class InvalidHandleError(CoarError):
    """The engine or concept has been closed (COAR_ERROR_INVALID_HANDLE)."""


class NotFoundError(CoarError, FileNotFoundError):
    """A file or directory does not exist (COAR_ERROR_NOT_FOUND)."""


class BadFileError(CoarError):
    """A model, concept or image file is malformed or does not fit the model (COAR_ERROR_BAD_FILE)."""


class DeviceError(CoarError):
    """The device is unavailable or failed (COAR_ERROR_DEVICE)."""


class OutOfMemoryError(CoarError, MemoryError):
    """Host or device memory ran out (COAR_ERROR_OUT_OF_MEMORY)."""


class CancelledError(CoarError):
    """The call was cancelled: the cancel flag was set or a callback stopped it (COAR_ERROR_CANCELLED)."""


class BusyError(CoarError):
    """The engine is in use by another call; one call at a time per engine (COAR_ERROR_BUSY)."""


class IoError(CoarError, OSError):
    """Reading or writing a file failed (COAR_ERROR_IO)."""


class InternalError(CoarError):
    """Something the engine did not foresee (COAR_ERROR_INTERNAL)."""


_BY_STATUS = {
    1: InvalidArgumentError,
    2: InvalidHandleError,
    3: NotFoundError,
    4: BadFileError,
    5: DeviceError,
    6: OutOfMemoryError,
    7: CancelledError,
    8: BusyError,
    9: IoError,
    10: InternalError,
}


def check(status):
    """Raises the exception for a failed call's status, with this thread's coar_last_error() message."""
    if status == 0:
        return
    lib = _native.lib()
    name = lib.coar_status_name(status).decode()
    message = lib.coar_last_error().decode("utf-8", "replace")
    raise _BY_STATUS.get(status, CoarError)(name, message)
