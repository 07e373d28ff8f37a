"""Reference images in the prompt (Lumina-mGPT's <|image|>) and the instruction switch."""

import numpy as np
import pytest

import coar


@pytest.fixture(scope="module")
def engine(model_dir):
    # Target 512: a reference is encoded at its best size for the target, and the smallest is the quickest.
    with coar.Engine(model_dir, device="cpu", target_size=512) as e:
        yield e


def test_reference_images_condition_the_prompt(engine, photos):
    size = dict(width=64, height=64, seed=21)
    plain = engine.generate("the same ball on a beach", **size)[0]
    first = engine.generate("<|image|> the same ball on a beach", images=photos[:1], **size)[0]
    again = engine.generate("<|image|> the same ball on a beach", images=photos[:1], **size)[0]
    assert np.array_equal(first.pixels, again.pixels)
    assert not np.array_equal(first.pixels, plain.pixels)
    assert len(first.tokens) == len(plain.tokens)
    both = engine.generate("the same ball on a beach", images=photos, instruction=False, count=2, **size)
    assert [im.seed for im in both] == [21, 22]


def test_bad_reference_images(engine, photos, model_dir):
    with pytest.raises(coar.NotFoundError, match="/nonexistent/reference.png"):
        engine.generate("x", width=64, height=64, images=["/nonexistent/reference.png"])
    with pytest.raises(coar.BadFileError, match="config.json"):
        engine.generate("x", width=64, height=64, images=[f"{model_dir}/config.json"])
    with pytest.raises(coar.InvalidArgumentError, match="image_count is 1"):
        engine.generate("<|image|> and <|image|>", width=64, height=64, images=photos[:1])
