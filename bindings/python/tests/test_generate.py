import threading

import numpy as np
import pytest

import coar
from coar import images as images_module
from coar import progress as progress_module


def test_versions():
    major, minor = coar.api_version()
    assert major == 1 and minor >= 1  # 1.1: adapted weights, reference images, training methods
    assert coar.version()[0].isdigit()


def test_generate_returns_numpy_images(engine):
    images = engine.generate("a red apple on a wooden table", width=64, height=64, count=2, seed=5)
    assert [im.seed for im in images] == [5, 6]
    for im in images:
        assert isinstance(im.pixels, np.ndarray)
        assert im.pixels.shape == (64, 64, 3) and im.pixels.dtype == np.uint8
        assert im.pixels.any()
        assert im.tokens.dtype == np.int32 and len(im.tokens) == 3 + 4 * (4 + 1) + 2
        assert np.asarray(im).shape == (64, 64, 3)
    assert not np.array_equal(images[0].pixels, images[1].pixels)


def test_an_image_depends_on_its_seed_only(engine):
    pair = engine.generate("a lighthouse", width=64, height=64, count=2, seed=20)
    alone = engine.generate("a lighthouse", width=64, height=64, seed=21)[0]
    assert np.array_equal(alone.pixels, pair[1].pixels)
    assert np.array_equal(alone.tokens, pair[1].tokens)


def test_without_numpy_pixels_are_bytes(engine, monkeypatch):
    monkeypatch.setattr(images_module, "_np", None)
    im = engine.generate("a red apple", width=64, height=32, seed=1)[0]
    assert isinstance(im.pixels, bytes) and len(im.pixels) == 64 * 32 * 3
    assert isinstance(im.tokens, list)


def test_progress_callback_sees_every_step(engine):
    reports = []
    engine.generate("a boat", width=64, height=64, progress=reports.append)
    assert reports and all(r.phase == "generate" for r in reports)
    assert [r.step for r in reports] == list(range(1, reports[-1].steps + 1))
    assert reports[-1].done == reports[-1].total


def test_progress_bar_uses_tqdm(engine, capsys):
    pytest.importorskip("tqdm")
    engine.generate("a boat", width=64, height=64, progress=True)
    err = capsys.readouterr().err
    assert "generating" in err and "step/s" in err  # tqdm's rate column


def test_progress_bar_without_tqdm(engine, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "_tqdm", None)
    engine.generate("a boat", width=64, height=64, progress=True)
    assert "generating: [" in capsys.readouterr().err


def test_load_progress(model_dir):
    reports = []
    with coar.Engine(model_dir, device="cpu", progress=reports.append) as e:
        assert e.info["device"].startswith("cpu")
    assert reports and reports[-1].phase == "load" and reports[-1].item


def test_an_exception_in_the_callback_stops_and_propagates(engine):
    class Enough(Exception):
        pass

    def stop_at_3(report):
        if report.step == 3:
            raise Enough()

    with pytest.raises(Enough):
        engine.generate("a boat", width=128, height=128, progress=stop_at_3)
    # the engine is intact afterwards
    assert len(engine.generate("a boat", width=64, height=64)) == 1


def test_cancel_flag_from_another_thread(engine):
    flag = coar.CancelFlag()
    timer = threading.Timer(0.05, flag.set)
    timer.start()
    with pytest.raises(coar.CancelledError, match="cancel flag"):
        engine.generate("a slow one", width=256, height=256, count=2, cancel=flag,
                        progress=lambda r: threading.Event().wait(0.002))
    timer.join()


def test_estimates(engine, model_dir):
    before = coar.estimate_memory(model_dir, "cpu", images=2, width=768, height=768)
    loaded = engine.estimate_memory(images=2, width=768, height=768)
    assert before["rows"] == loaded["rows"] == 4
    assert before["total_bytes"] == before["weight_bytes"] + before["kv_cache_bytes"] + before["activation_bytes"]
    assert 1 <= engine.largest_batch(cap=4) <= 4


def test_one_call_at_a_time_per_engine(engine):
    started, release = threading.Event(), threading.Event()
    errors = []

    def hold(report):
        if report.step == 1:
            started.set()
            release.wait(10)

    worker = threading.Thread(target=lambda: engine.generate("held", width=64, height=64, progress=hold))
    worker.start()
    assert started.wait(10)
    try:
        with pytest.raises(coar.BusyError, match="in use"):
            engine.generate("second", width=64, height=64)
    except BaseException as e:  # keep the worker from hanging whatever happens
        errors.append(e)
    release.set()
    worker.join()
    assert not errors
