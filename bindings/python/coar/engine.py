"""The engine: a loaded Lumina-mGPT model on a device, generating images and training concepts through libcoar."""

import ctypes
import os

from . import _native
from .concept import Concept
from .errors import check
from .handle import NativeHandle
from .images import copy_images, numpy_module
from .progress import progress_bridge, train_step_bridge

_KINDS = {"subject": 0, "style": 1}


def _progress_args(progress):
    """progress=None: nothing; True: a bar; a callable: called with each report."""
    if progress is True:
        return None, True
    if progress is None or progress is False:
        return None, False
    if callable(progress):
        return progress, False
    raise TypeError("progress must be None, True (a bar) or a callable taking one report")


def _run(call, bridge):
    """Runs a native call with a callback bridge: the callback's exception first, then the call's status."""
    try:
        status = call()
    finally:
        bridge.close()
    bridge.reraise()
    check(status)


class Engine(NativeHandle):
    """
    A coar_engine handle: Engine(model_dir, device="auto"). One call at a time per engine (a concurrent call raises
    BusyError); separate engines run in parallel. close() (or `with`) frees its memory.
    """

    _free_function = "coar_engine_free"
    _kind = "engine"

    def __init__(self, model_dir, device="auto", *, vqgan_dir=None, target_size=768, progress=None, cancel=None):
        self._handle = None  # until the load succeeds
        lib = _native.lib()
        options = lib.coar_load_options_default()
        options.device = device.encode()
        options.vqgan_dir = os.fsencode(vqgan_dir) if vqgan_dir is not None else None
        options.target_size = target_size
        user, bar = _progress_args(progress)
        bridge = progress_bridge(user, bar, "loading")
        options.progress = bridge.c_function
        options.cancel = cancel.pointer() if cancel is not None else None
        handle = ctypes.c_void_p()
        _run(lambda: lib.coar_engine_load(os.fsencode(model_dir), ctypes.byref(options), ctypes.byref(handle)), bridge)
        self._handle = handle

    @property
    def info(self):
        """device, fallback_reason, fingerprint, target_size, layers, hidden_size, vocab_size."""
        info = _native.EngineInfo()
        check(_native.lib().coar_engine_info_get(self._live(), ctypes.byref(info)))
        return {
            "device": info.device.decode(),
            "fallback_reason": info.fallback_reason.decode() if info.fallback_reason else None,
            "fingerprint": info.fingerprint.decode(),
            "target_size": info.target_size,
            "layers": info.layers,
            "hidden_size": info.hidden_size,
            "vocab_size": info.vocab_size,
        }

    def estimate_memory(self, images=1, width=768, height=768, guided=True):
        """Bytes to generate `images` images at once on this engine's device (a dict of weight, kv_cache, ...)."""
        estimate = _native.MemoryEstimate()
        check(_native.lib().coar_engine_estimate_memory(self._live(), images, width, height, int(guided), ctypes.byref(estimate)))
        return _estimate_dict(estimate)

    def largest_batch(self, width=768, height=768, guided=True, cap=16):
        """The largest batch that fits in the device's free memory (1 to cap)."""
        batch = ctypes.c_int32()
        check(_native.lib().coar_engine_largest_batch(self._live(), width, height, int(guided), cap, ctypes.byref(batch)))
        return batch.value

    def generate(self, prompt, *, width=768, height=768, count=1, seed=0, cfg=4.0, top_k=2000, temperature=1.0,
                 concepts=(), identity_mask=True, progress=None, cancel=None):
        """
        Generates `count` images of one prompt in one batch (image i gets seed + i) and returns GeneratedImage
        objects: `.pixels` is a numpy uint8 array [height, width, 3] where numpy is installed, else bytes.
        progress: True for a bar, or a callable getting a ProgressReport per decode step; an exception it raises
        stops the generation and propagates. cancel: a CancelFlag another thread may set.
        """
        lib = _native.lib()
        options = lib.coar_generate_options_default()
        options.prompt = prompt.encode()
        options.width, options.height, options.count, options.seed = width, height, count, seed
        options.cfg, options.top_k, options.temperature = cfg, top_k, temperature
        handles = (ctypes.c_void_p * max(len(concepts), 1))(*[c._live().value for c in concepts])
        options.concepts = ctypes.cast(handles, ctypes.POINTER(ctypes.c_void_p)) if concepts else None
        options.concept_count = len(concepts)
        options.identity_mask = int(identity_mask)
        user, bar = _progress_args(progress)
        bridge = progress_bridge(user, bar, "generating")
        options.progress = bridge.c_function
        options.cancel = cancel.pointer() if cancel is not None else None
        result = ctypes.POINTER(_native.Images)()
        _run(lambda: lib.coar_generate(self._live(), ctypes.byref(options), ctypes.byref(result)), bridge)
        try:
            return copy_images(result, numpy_module())
        finally:
            lib.coar_images_free(result)

    def train_concept(self, images, class_noun, *, kind="subject", placeholder=None, steps=None, layers=None,
                      learning_rate=None, resolution=None, prior_preservation=None, class_images=None,
                      self_regularization=None, accumulation=None, random_crop=None, seed=None, work_dir=None,
                      on_step=None, progress=None, cancel=None):
        """
        Trains a concept from image files (a subject's photos or a style reference) and returns a Concept. Options
        left None keep the CoAR paper's defaults for the kind (layers and resolution: the kind's depth clamped to the
        model, the engine's target size). on_step gets a TrainStepReport after every step; an
        exception it raises stops training and propagates. progress=True draws a bar over the steps.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'subject' or 'style', not {kind!r}")
        if isinstance(images, (str, bytes, os.PathLike)):
            images = [images]
        lib = _native.lib()
        options = lib.coar_train_options_default(_KINDS[kind])
        options.class_noun = class_noun.encode()
        if placeholder is not None:
            options.placeholder = placeholder.encode()
        for name, value in (("steps", steps), ("layers", layers), ("learning_rate", learning_rate), ("resolution", resolution),
                            ("class_images", class_images), ("accumulation", accumulation), ("seed", seed)):
            if value is not None:
                setattr(options, name, value)
        for name, value in (("prior_preservation", prior_preservation), ("self_regularization", self_regularization),
                            ("random_crop", random_crop)):
            if value is not None:
                setattr(options, name, int(bool(value)))
        options.work_dir = os.fsencode(work_dir) if work_dir is not None else None
        user, bar = _progress_args(progress)
        if on_step is not None and user is not None:
            raise TypeError("give on_step or a progress callable, not both")
        bridge = train_step_bridge(on_step or user, bar, "training")
        options.on_step = bridge.c_function
        options.cancel = cancel.pointer() if cancel is not None else None
        paths = (ctypes.c_char_p * max(len(images), 1))(*[os.fsencode(p) for p in images])
        handle = ctypes.c_void_p()
        _run(lambda: lib.coar_train_concept(self._live(), paths, len(images), ctypes.byref(options), ctypes.byref(handle)), bridge)
        return Concept(handle.value)


def _estimate_dict(e):
    return {
        "weight_bytes": e.weight_bytes,
        "kv_cache_bytes": e.kv_cache_bytes,
        "activation_bytes": e.activation_bytes,
        "total_bytes": e.total_bytes,
        "rows": e.rows,
        "tokens_per_row": e.tokens_per_row,
    }


def estimate_memory(model_dir, device="cuda", images=1, width=768, height=768, guided=True):
    """Bytes to generate `images` images at once, before loading: reads only the checkpoint's headers."""
    estimate = _native.MemoryEstimate()
    check(_native.lib().coar_estimate_memory(os.fsencode(model_dir), device.encode(), images, width, height, int(guided),
                                             ctypes.byref(estimate)))
    return _estimate_dict(estimate)
