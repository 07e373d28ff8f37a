"""Shared fixtures: the package from this checkout, the built-in model, one engine per test module."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import coar  # noqa: E402


@pytest.fixture(scope="session")
def model_dir():
    return coar.builtin_model()


@pytest.fixture(scope="module")
def engine(model_dir):
    with coar.Engine(model_dir, device="cpu") as e:
        yield e
