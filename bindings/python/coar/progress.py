"""Progress for long calls: the caller's callback, a tqdm bar where tqdm is installed, and stopping on an exception."""

import sys

from . import _native

try:
    import tqdm as _tqdm
except ImportError:  # tqdm is optional
    _tqdm = None


class TextBar:
    """A one-line bar on stderr, for when tqdm is not installed."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0

    def update(self, n):
        self.n += n
        width = 30
        filled = width * self.n // max(self.total, 1)
        sys.stderr.write(f"\r{self.desc}: [{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total}")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")
        sys.stderr.flush()


def make_bar(total, desc):
    """A tqdm bar if tqdm is installed, else a TextBar; both have update(n) and close()."""
    if _tqdm is not None:
        return _tqdm.tqdm(total=total, desc=desc, unit="step", leave=False)
    return TextBar(total, desc)


class CallbackBridge:
    """
    Wraps a Python callable as a C callback. The callable gets a plain object per report (or nothing when None is
    given); `bar=True` draws a bar over the steps. Always installed, so Ctrl+C (KeyboardInterrupt) reaches Python
    during a long call: an exception raised by the callable or by the interpreter stops the call, and `reraise()`
    raises it after the call returns.
    """

    def __init__(self, c_type, convert, user, bar, desc):
        self._user, self._convert, self._bar_wanted, self._desc = user, convert, bar, desc
        self._bar = None
        self.error = None
        self.c_function = c_type(self._call)

    def _call(self, report, _user_data):
        try:
            value = self._convert(report.contents)
            if self._bar_wanted:
                if self._bar is None:
                    self._bar = make_bar(value.steps, self._desc)
                self._bar.update(value.step - self._bar.n)
            if self._user is not None:
                self._user(value)
            return 0
        except BaseException as e:  # noqa: B036 - KeyboardInterrupt too: stop the native call, re-raise after it
            self.error = e
            return 1

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def reraise(self):
        """After the call: the exception that stopped it, if one did."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error


class ProgressReport:
    """One progress report: phase ("load" or "generate"), step of steps, done of total, seconds so far, item."""

    __slots__ = ("phase", "step", "steps", "done", "total", "elapsed_seconds", "item")

    def __init__(self, p):
        self.phase = "load" if p.phase == 0 else "generate"
        self.step, self.steps, self.done, self.total = p.step, p.steps, p.done, p.total
        self.elapsed_seconds = p.elapsed_seconds
        self.item = p.item.decode() if p.item else None

    def __repr__(self):
        return f"ProgressReport({self.phase} {self.step}/{self.steps}, {self.done}/{self.total})"


class TrainStepReport:
    """One training step: step of steps, losses, learning rate, seconds."""

    __slots__ = ("step", "steps", "loss", "ntp_loss", "dpp_loss", "casr_loss", "learning_rate", "step_seconds")

    def __init__(self, s):
        self.step, self.steps = s.step, s.steps
        self.loss, self.ntp_loss, self.dpp_loss, self.casr_loss = s.loss, s.ntp_loss, s.dpp_loss, s.casr_loss
        self.learning_rate, self.step_seconds = s.learning_rate, s.step_seconds

    def __repr__(self):
        return f"TrainStepReport({self.step}/{self.steps}, loss {self.loss:.4f})"


def progress_bridge(user, bar, desc):
    return CallbackBridge(_native.ProgressFn, ProgressReport, user, bar, desc)


def train_step_bridge(user, bar, desc):
    return CallbackBridge(_native.TrainStepFn, TrainStepReport, user, bar, desc)
