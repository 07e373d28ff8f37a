"""Training methods beyond CoAR (textual inversion, LoRA, PersonalAR) and applying their weights to an engine."""

import os

import numpy as np
import pytest

import coar


def tiny(**options):
    """A few steps at 64 pixels without class images: what the built-in model trains in seconds."""
    return dict(steps=2, resolution=64, prior_preservation=False, **options)


def test_textual_inversion_trains_the_input_embedding(engine, photos):
    steps = []
    concept = engine.train(photos, "ball", method="textual-inversion", on_step=steps.append, **tiny())
    assert [s.step for s in steps] == [1, 2]
    info = concept.info
    assert (info["placeholder"], info["depth"], info["text_slots"], info["image_slots"]) == ("[V]", 1, 1, 0)
    concept.close()


def test_lora_and_personalar_weights_apply_to_an_engine(engine, photos, model_dir, tmp_path):
    lora_dir = tmp_path / "ball-lora"
    assert engine.train(photos, "ball", method="lora", output_dir=str(lora_dir), lora_rank=2, targets="q,v", **tiny()) is None
    assert sorted(os.listdir(lora_dir)) == ["adapter_config.json", "adapter_model.safetensors"]

    personal_dir = tmp_path / "ball-personalar"
    steps = []
    concept = engine.train(photos, "ball", method="personalar", output_dir=str(personal_dir), stage2_steps=2,
                           stage2_learning_rate=1e-2, on_step=steps.append, **tiny())
    assert len(steps) == 4  # both stages
    assert {"concept.safetensors", "projections.safetensors"} <= set(os.listdir(personal_dir))
    assert concept.info["depth"] == 1

    prompt = "a photo of [V] ball"
    base = engine.generate(prompt, width=64, height=64, seed=5, concepts=[concept])[0]
    with coar.Engine(model_dir, device="cpu") as adapted:
        assert adapted.weights == {"lora": "none", "projections": False}
        adapted.apply_projections(personal_dir)
        adapted.apply_lora([lora_dir])
        assert adapted.weights == {"lora": "unmerged", "projections": True}
        image = adapted.generate(prompt, width=64, height=64, seed=5, concepts=[concept])[0]
        assert not np.array_equal(image.pixels, base.pixels)
        with pytest.raises(coar.InvalidArgumentError, match="already has LoRA adapters"):
            adapted.apply_lora(lora_dir, merge=True)
    with coar.Engine(model_dir, device="cpu") as merged:
        merged.apply_lora(lora_dir, merge=True)
        assert merged.weights["lora"] == "merged"
    concept.close()

    # Stage 2 with LoRA: the adapter's files beside the concept.
    lora_stage = tmp_path / "ball-personalar-lora"
    engine.train(photos, "ball", method="personalar", stage2="lora", lora_rank=2, output_dir=str(lora_stage), stage2_steps=1,
                 **tiny()).close()
    assert {"concept.safetensors", "adapter_model.safetensors", "adapter_config.json"} <= set(os.listdir(lora_stage))


def test_bad_weight_files_name_the_file(engine, model_dir, tmp_path):
    with pytest.raises(coar.NotFoundError, match="/nonexistent/adapter"):
        engine.apply_lora("/nonexistent/adapter")
    with pytest.raises(coar.BadFileError, match="config.json"):
        engine.apply_projections(f"{model_dir}/config.json")
    with pytest.raises(coar.NotFoundError, match="projections.safetensors"):
        engine.apply_projections(str(tmp_path))  # a directory without the file
    with pytest.raises(ValueError, match="no adapter"):
        engine.apply_lora([])
    assert engine.weights == {"lora": "none", "projections": False}


def test_bad_training_methods_are_refused(engine, photos):
    with pytest.raises(ValueError, match="method"):
        engine.train(photos, "ball", method="dreambooth")
    with pytest.raises(coar.InvalidArgumentError, match="output_dir is NULL"):
        engine.train(photos, "ball", method="lora", **tiny())
    with pytest.raises(coar.InvalidArgumentError, match="trains no weights"):
        engine.train(photos, "ball", method="textual-inversion", lora_rank=4, **tiny())
    with pytest.raises(coar.InvalidArgumentError, match="COAR_CONCEPT_STYLE"):
        engine.train(photos, "ink", method="personalar", kind="style", output_dir="unused", **tiny())
