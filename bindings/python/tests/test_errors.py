import pytest

import coar


def test_missing_model_directory():
    with pytest.raises(coar.NotFoundError, match="/nonexistent/model") as info:
        coar.Engine("/nonexistent/model")
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.status == "COAR_ERROR_NOT_FOUND"


def test_bad_arguments_name_the_option(engine):
    with pytest.raises(coar.InvalidArgumentError, match="100x64"):
        engine.generate("x", width=100, height=64)
    with pytest.raises(ValueError, match="count"):
        engine.generate("x", width=64, height=64, count=0)
    with pytest.raises(coar.InvalidArgumentError, match="temperature"):
        engine.generate("x", width=64, height=64, temperature=0)
    with pytest.raises(coar.InvalidArgumentError, match="'gpu'"):
        coar.estimate_memory(coar.builtin_model(), "gpu")
    with pytest.raises(coar.InvalidArgumentError, match="700"):
        coar.Engine(coar.builtin_model(), target_size=700)


def test_not_a_concept_file(model_dir):
    with pytest.raises(coar.BadFileError, match="config.json"):
        coar.Concept.load(f"{model_dir}/config.json")
    with pytest.raises(coar.NotFoundError):
        coar.Concept.load("/nonexistent/dog.safetensors")


def test_training_with_missing_photos(engine):
    with pytest.raises(coar.NotFoundError, match="/nonexistent/photo.png"):
        engine.train_concept(["/nonexistent/photo.png"], "dog", steps=1, resolution=64, prior_preservation=False)
    with pytest.raises(ValueError, match="kind"):
        engine.train_concept(["a.png"], "dog", kind="object")


def test_closed_engine(model_dir):
    e = coar.Engine(model_dir, device="cpu")
    e.close()
    e.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        e.generate("x", width=64, height=64)
