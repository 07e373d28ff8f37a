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
_METHODS = {"coar": 0, "textual-inversion": 1, "lora": 2, "personalar": 3}
_LORA_MODES = {0: "none", 1: "unmerged", 2: "merged"}


def _paths(files):
    """One path or a list of them, as a C array of encoded paths (and its length)."""
    if isinstance(files, (str, bytes, os.PathLike)):
        files = [files]
    files = list(files)
    return (ctypes.c_char_p * max(len(files), 1))(*[os.fsencode(p) for p in files]), len(files)


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
                 concepts=(), identity_mask=True, images=(), instruction=True, progress=None, cancel=None):
        """
        Generates `count` images of one prompt in one batch (image i gets seed + i) and returns GeneratedImage
        objects: `.pixels` is a numpy uint8 array [height, width, 3] where numpy is installed, else bytes.
        images: image files in the prompt (Lumina-mGPT's <|image|>: each symbol in the prompt takes the next file; with
        none in the prompt all go first), VQGAN-encoded once per call. instruction=False leaves out the text-to-image
        instruction (the caption is the whole turn, as Lumina-mGPT's image-conditioned tasks write it).
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
        references = lib.coar_prompt_images_default()
        paths, references.image_count = _paths(images)
        references.image_paths = paths
        references.instruction = int(bool(instruction))
        result = ctypes.POINTER(_native.Images)()
        _run(lambda: lib.coar_generate_with_images(self._live(), ctypes.byref(options), ctypes.byref(references),
                                                   ctypes.byref(result)), bridge)
        try:
            return copy_images(result, numpy_module())
        finally:
            lib.coar_images_free(result)

    def apply_projections(self, path):
        """
        Puts fine-tuned projection weights (a safetensors file under the checkpoint's names, e.g. PersonalAR's
        projections.safetensors, or its directory) in place of the loaded ones for every later generation. Before
        apply_lora; cannot be undone (open a new Engine for the base weights).
        """
        check(_native.lib().coar_engine_apply_projections(self._live(), os.fsencode(path)))

    def apply_lora(self, adapters, merge=False):
        """
        Applies LoRA adapters in PEFT's layout (directories, or adapter_model.safetensors files with
        adapter_config.json beside them) to every later generation: unmerged (a low-rank term per step) or merged
        into the weights once. All are checked before any applies; once per engine.
        """
        paths, count = _paths(adapters)
        if count == 0:
            raise ValueError("apply_lora: no adapter given")
        check(_native.lib().coar_engine_apply_lora(self._live(), paths, count, int(bool(merge))))

    @property
    def weights(self):
        """What generations run with besides the checkpoint: {"lora": "none"|"unmerged"|"merged", "projections": bool}."""
        w = _native.EngineWeights()
        check(_native.lib().coar_engine_weights_get(self._live(), ctypes.byref(w)))
        return {"lora": _LORA_MODES.get(w.lora, str(w.lora)), "projections": bool(w.projections)}

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
        lib = _native.lib()
        options = lib.coar_train_options_default(_KINDS[kind])
        return self._train(lambda paths, count, handle: lib.coar_train_concept(
            self._live(), paths, count, ctypes.byref(options), ctypes.byref(handle)), options, images, class_noun, locals())

    def train(self, images, class_noun, *, method="coar", output_dir=None, kind="subject", placeholder=None, steps=None,
              layers=None, learning_rate=None, resolution=None, prior_preservation=None, class_images=None,
              self_regularization=None, accumulation=None, random_crop=None, seed=None, work_dir=None, lora_rank=None,
              lora_alpha=None, targets=None, stage2="full", stage2_steps=None, stage2_learning_rate=None,
              on_step=None, progress=None, cancel=None):
        """
        Trains by a method from image files. method: "coar" (context tokens, as train_concept), "textual-inversion"
        (PersonalAR's stage 1: the [V] input embedding alone), "lora" (LoRA adapters on `targets`, default "q,k,v",
        written in PEFT's layout to output_dir; returns None) or "personalar" (textual inversion, then the [V]
        embedding with the full weights of `targets` (stage2="full") or LoRA on them (stage2="lora"); output_dir gets
        concept.safetensors and projections.safetensors or the adapter's files; the steps, learning_rate are stage 1's,
        stage2_steps, stage2_learning_rate stage 2's). Options left None keep the method's defaults. Returns the
        trained Concept (PersonalAR's final [V]), or None for LoRA.
        """
        if method not in _METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}, not {method!r}")
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'subject' or 'style', not {kind!r}")
        if stage2 not in ("full", "lora"):
            raise ValueError(f"stage2 must be 'full' or 'lora', not {stage2!r}")
        lib = _native.lib()
        code = _METHODS[method]
        options = lib.coar_train_options_default(_KINDS[kind]) if code == 0 else lib.coar_train_options_for_method(code)
        options.kind = _KINDS[kind]
        m = lib.coar_method_options_default(code)
        for name, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha), ("stage2_steps", stage2_steps),
                            ("stage2_learning_rate", stage2_learning_rate)):
            if value is not None:
                setattr(m, name, value)
        m.targets = targets.encode() if targets is not None else None
        m.stage2_lora = int(method == "personalar" and stage2 == "lora")
        m.output_dir = os.fsencode(output_dir) if output_dir is not None else None
        return self._train(lambda paths, count, handle: lib.coar_train(
            self._live(), paths, count, ctypes.byref(options), ctypes.byref(m), ctypes.byref(handle)), options, images, class_noun,
            locals())

    @staticmethod
    def _train(call, options, images, class_noun, given):
        """
        Fills the concept part of `options` from `given` (the calling method's arguments: its locals()), runs `call`
        (paths, count, concept handle out) and wraps the concept it made (None: LoRA makes none).
        """
        options.class_noun = class_noun.encode()
        if given["placeholder"] is not None:
            options.placeholder = given["placeholder"].encode()
        for name in ("steps", "layers", "learning_rate", "resolution", "class_images", "accumulation", "seed"):
            if given[name] is not None:
                setattr(options, name, given[name])
        for name in ("prior_preservation", "self_regularization", "random_crop"):
            if given[name] is not None:
                setattr(options, name, int(bool(given[name])))
        options.work_dir = os.fsencode(given["work_dir"]) if given["work_dir"] is not None else None
        user, bar = _progress_args(given["progress"])
        if given["on_step"] is not None and user is not None:
            raise TypeError("give on_step or a progress callable, not both")
        bridge = train_step_bridge(given["on_step"] or user, bar, "training")
        options.on_step = bridge.c_function
        options.cancel = given["cancel"].pointer() if given["cancel"] is not None else None
        paths, count = _paths(images)
        handle = ctypes.c_void_p()
        _run(lambda: call(paths, count, handle), bridge)
        return Concept(handle.value) if handle.value else None


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
