"""ctypes declarations of coar.h (src/Engine.Native/include/coar.h): structs, callbacks, and the library's functions."""

import ctypes
import ctypes.util
import os

API_VERSION_MAJOR = 1
API_VERSION_MINOR = 1  # the least minor version this binding needs: 1.1 added adapted weights, images, methods

c_int32_p = ctypes.POINTER(ctypes.c_int32)


class Progress(ctypes.Structure):
    _fields_ = [
        ("phase", ctypes.c_int32),
        ("step", ctypes.c_int32),
        ("steps", ctypes.c_int32),
        ("done", ctypes.c_int64),
        ("total", ctypes.c_int64),
        ("elapsed_seconds", ctypes.c_double),
        ("item", ctypes.c_char_p),
    ]


ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(Progress), ctypes.c_void_p)


class LoadOptions(ctypes.Structure):
    _fields_ = [
        ("device", ctypes.c_char_p),
        ("vqgan_dir", ctypes.c_char_p),
        ("target_size", ctypes.c_int32),
        ("progress", ProgressFn),
        ("progress_user_data", ctypes.c_void_p),
        ("cancel", c_int32_p),
    ]


class EngineInfo(ctypes.Structure):
    _fields_ = [
        ("device", ctypes.c_char_p),
        ("fallback_reason", ctypes.c_char_p),
        ("fingerprint", ctypes.c_char_p),
        ("target_size", ctypes.c_int32),
        ("layers", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
        ("vocab_size", ctypes.c_int32),
    ]


class MemoryEstimate(ctypes.Structure):
    _fields_ = [
        ("weight_bytes", ctypes.c_int64),
        ("kv_cache_bytes", ctypes.c_int64),
        ("activation_bytes", ctypes.c_int64),
        ("total_bytes", ctypes.c_int64),
        ("rows", ctypes.c_int32),
        ("tokens_per_row", ctypes.c_int32),
    ]


class GenerateOptions(ctypes.Structure):
    _fields_ = [
        ("prompt", ctypes.c_char_p),
        ("width", ctypes.c_int32),
        ("height", ctypes.c_int32),
        ("count", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
        ("cfg", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("concepts", ctypes.POINTER(ctypes.c_void_p)),
        ("concept_count", ctypes.c_int32),
        ("identity_mask", ctypes.c_int32),
        ("progress", ProgressFn),
        ("progress_user_data", ctypes.c_void_p),
        ("cancel", c_int32_p),
    ]


class Image(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int32),
        ("height", ctypes.c_int32),
        ("rgb", ctypes.POINTER(ctypes.c_uint8)),
        ("tokens", ctypes.POINTER(ctypes.c_int32)),
        ("token_count", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
    ]


class Images(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_int32),
        ("images", ctypes.POINTER(Image)),
        ("prefill_seconds", ctypes.c_double),
        ("decode_seconds", ctypes.c_double),
    ]


class ConceptInfo(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("placeholder", ctypes.c_char_p),
        ("class_noun", ctypes.c_char_p),
        ("base_model", ctypes.c_char_p),
        ("depth", ctypes.c_int32),
        ("text_slots", ctypes.c_int32),
        ("image_slots", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
    ]


class TrainStep(ctypes.Structure):
    _fields_ = [
        ("step", ctypes.c_int32),
        ("steps", ctypes.c_int32),
        ("loss", ctypes.c_double),
        ("ntp_loss", ctypes.c_double),
        ("dpp_loss", ctypes.c_double),
        ("casr_loss", ctypes.c_double),
        ("learning_rate", ctypes.c_float),
        ("step_seconds", ctypes.c_double),
    ]


TrainStepFn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(TrainStep), ctypes.c_void_p)


class TrainOptions(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("class_noun", ctypes.c_char_p),
        ("placeholder", ctypes.c_char_p),
        ("steps", ctypes.c_int32),
        ("layers", ctypes.c_int32),
        ("text_slots", ctypes.c_int32),
        ("image_slots", ctypes.c_int32),
        ("learning_rate", ctypes.c_float),
        ("resolution", ctypes.c_int32),
        ("prior_preservation", ctypes.c_int32),
        ("class_images", ctypes.c_int32),
        ("self_regularization", ctypes.c_int32),
        ("accumulation", ctypes.c_int32),
        ("random_crop", ctypes.c_int32),
        ("seed", ctypes.c_int32),
        ("work_dir", ctypes.c_char_p),
        ("on_step", TrainStepFn),
        ("user_data", ctypes.c_void_p),
        ("cancel", c_int32_p),
    ]


class EngineWeights(ctypes.Structure):
    _fields_ = [
        ("lora", ctypes.c_int32),
        ("projections", ctypes.c_int32),
    ]


class PromptImages(ctypes.Structure):
    _fields_ = [
        ("image_paths", ctypes.POINTER(ctypes.c_char_p)),
        ("image_count", ctypes.c_int32),
        ("instruction", ctypes.c_int32),
    ]


class MethodOptions(ctypes.Structure):
    _fields_ = [
        ("method", ctypes.c_int32),
        ("lora_rank", ctypes.c_int32),
        ("lora_alpha", ctypes.c_float),
        ("targets", ctypes.c_char_p),
        ("stage2_lora", ctypes.c_int32),
        ("stage2_steps", ctypes.c_int32),
        ("stage2_learning_rate", ctypes.c_float),
        ("output_dir", ctypes.c_char_p),
    ]


def _find_library():
    """COAR_LIBRARY, else a libcoar.so inside this package, else the system's loader path."""
    explicit = os.environ.get("COAR_LIBRARY")
    if explicit:
        return explicit
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcoar.so")
    if os.path.exists(bundled):
        return bundled
    return ctypes.util.find_library("coar") or "libcoar.so"


def _declare(lib):
    status = ctypes.c_int32
    handle = ctypes.c_void_p
    out_handle = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "coar_version": (ctypes.c_char_p, []),
        "coar_api_version": (ctypes.c_int32, []),
        "coar_last_error": (ctypes.c_char_p, []),
        "coar_status_name": (ctypes.c_char_p, [ctypes.c_int32]),
        "coar_builtin_model": (status, [ctypes.POINTER(ctypes.c_char_p)]),
        "coar_load_options_default": (LoadOptions, []),
        "coar_engine_load": (status, [ctypes.c_char_p, ctypes.POINTER(LoadOptions), out_handle]),
        "coar_engine_free": (status, [handle]),
        "coar_engine_info_get": (status, [handle, ctypes.POINTER(EngineInfo)]),
        "coar_estimate_memory": (status, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                          ctypes.c_int32, ctypes.POINTER(MemoryEstimate)]),
        "coar_engine_estimate_memory": (status, [handle, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                                 ctypes.POINTER(MemoryEstimate)]),
        "coar_engine_largest_batch": (status, [handle, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, c_int32_p]),
        "coar_generate_options_default": (GenerateOptions, []),
        "coar_generate": (status, [handle, ctypes.POINTER(GenerateOptions), ctypes.POINTER(ctypes.POINTER(Images))]),
        "coar_images_free": (None, [ctypes.POINTER(Images)]),
        "coar_concept_load": (status, [ctypes.c_char_p, handle, out_handle]),
        "coar_concept_save": (status, [handle, ctypes.c_char_p]),
        "coar_concept_with_placeholder": (status, [handle, ctypes.c_char_p, out_handle]),
        "coar_concept_info_get": (status, [handle, ctypes.POINTER(ConceptInfo)]),
        "coar_concept_free": (status, [handle]),
        "coar_train_options_default": (TrainOptions, [ctypes.c_int32]),
        "coar_train_concept": (status, [handle, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int32, ctypes.POINTER(TrainOptions),
                                        out_handle]),
        "coar_engine_apply_projections": (status, [handle, ctypes.c_char_p]),
        "coar_engine_apply_lora": (status, [handle, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int32, ctypes.c_int32]),
        "coar_engine_weights_get": (status, [handle, ctypes.POINTER(EngineWeights)]),
        "coar_prompt_images_default": (PromptImages, []),
        "coar_generate_with_images": (status, [handle, ctypes.POINTER(GenerateOptions), ctypes.POINTER(PromptImages),
                                               ctypes.POINTER(ctypes.POINTER(Images))]),
        "coar_method_options_default": (MethodOptions, [ctypes.c_int32]),
        "coar_train_options_for_method": (TrainOptions, [ctypes.c_int32]),
        "coar_train": (status, [handle, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int32, ctypes.POINTER(TrainOptions),
                                ctypes.POINTER(MethodOptions), out_handle]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


_lib = None


def lib():
    """The loaded libcoar, checked to speak API 1.1 or a later 1.x (before any function is looked up)."""
    global _lib
    if _lib is None:
        path = _find_library()
        try:
            loaded = ctypes.CDLL(path)
        except OSError as e:
            raise OSError(f"cannot load libcoar ({path}): {e}; set COAR_LIBRARY to the path of libcoar.so") from e
        loaded.coar_api_version.restype = ctypes.c_int32
        version = loaded.coar_api_version()
        if version // 1000 != API_VERSION_MAJOR or version % 1000 < API_VERSION_MINOR:
            raise OSError(f"{path} speaks C API {version // 1000}.{version % 1000}; this binding needs "
                          f"{API_VERSION_MAJOR}.{API_VERSION_MINOR} or a later {API_VERSION_MAJOR}.x")
        _declare(loaded)
        _lib = loaded
    return _lib
