import numpy as np
import pytest

import coar


def test_train_save_load_generate(engine, photos, tmp_path):
    steps = []
    concept = engine.train_concept(photos, "ball", steps=3, layers=2, resolution=64, class_images=1,
                                   work_dir=str(tmp_path / "cache"), on_step=steps.append)
    assert [s.step for s in steps] == [1, 2, 3] and all(s.loss > 0 for s in steps)
    info = concept.info
    assert info["placeholder"] == "[V]" and info["class_noun"] == "ball" and info["depth"] == 2
    assert info["base_model"] == engine.info["fingerprint"]

    path = tmp_path / "ball.safetensors"
    concept.save(path)
    with coar.Concept.load(path, engine) as loaded:
        a = engine.generate("a photo of [V] ball", width=64, height=64, seed=9, concepts=[concept])[0]
        b = engine.generate("a photo of [V] ball", width=64, height=64, seed=9, concepts=[loaded])[0]
        assert np.array_equal(a.pixels, b.pixels)
        with loaded.with_placeholder("[W]") as renamed:
            assert renamed.placeholder == "[W]"
    concept.close()


def test_on_step_can_stop_training(engine, photos, tmp_path):
    def stop(step):
        if step.step == 2:
            raise KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        engine.train_concept(photos, "ball", steps=5, layers=1, resolution=64, prior_preservation=False,
                             work_dir=str(tmp_path), on_step=stop)


def test_training_progress_bar(engine, photos, tmp_path, capsys):
    concept = engine.train_concept(photos, "ink", kind="style", steps=2, resolution=64, work_dir=str(tmp_path), progress=True)
    assert concept.info["kind"] == "style" and concept.placeholder == "[S]"
    assert "training" in capsys.readouterr().err
