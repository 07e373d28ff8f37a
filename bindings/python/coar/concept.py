"""Concepts: learned context tokens for a subject or a style, bound to a placeholder such as "[V]"."""

import ctypes
import os

from . import _native
from .errors import check
from .handle import NativeHandle


class Concept(NativeHandle):
    """A coar_concept handle. Immutable; usable from any thread and engine. close() (or `with`) frees it."""

    _free_function = "coar_concept_free"
    _kind = "concept"

    @classmethod
    def load(cls, path, engine=None):
        """Loads a concept file; with an engine, refuses one trained on another base model."""
        handle = ctypes.c_void_p()
        check(_native.lib().coar_concept_load(os.fsencode(path), engine._live() if engine else None, ctypes.byref(handle)))
        return cls(handle.value)

    def save(self, path):
        """Writes the concept file atomically."""
        check(_native.lib().coar_concept_save(self._live(), os.fsencode(path)))

    def with_placeholder(self, placeholder):
        """The same tokens bound to another placeholder, as a new Concept."""
        handle = ctypes.c_void_p()
        check(_native.lib().coar_concept_with_placeholder(self._live(), placeholder.encode(), ctypes.byref(handle)))
        return Concept(handle.value)

    @property
    def info(self):
        """kind ("subject"/"style"), placeholder, class_noun, base_model, depth, text_slots, image_slots, hidden_size."""
        info = _native.ConceptInfo()
        check(_native.lib().coar_concept_info_get(self._live(), ctypes.byref(info)))
        return {
            "kind": "style" if info.kind == 1 else "subject",
            "placeholder": info.placeholder.decode(),
            "class_noun": info.class_noun.decode(),
            "base_model": info.base_model.decode(),
            "depth": info.depth,
            "text_slots": info.text_slots,
            "image_slots": info.image_slots,
            "hidden_size": info.hidden_size,
        }

    @property
    def placeholder(self):
        return self.info["placeholder"]

    def __repr__(self):
        return f"Concept({self.placeholder})" if self._handle is not None else "Concept(closed)"
