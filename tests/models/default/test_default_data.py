import numpy as np

from models.default.analysis import analyse
from models.default.concepts import colour_rgb
from models.default.data import Scene, build_dataset, random_scene, render


def test_dataset_is_a_function_of_its_seed() -> None:
    a_img, a_cap, a_ids = build_dataset(40, seed=3)
    b_img, b_cap, b_ids = build_dataset(40, seed=3)
    c_img, _, _ = build_dataset(40, seed=4)
    assert np.array_equal(a_img, b_img) and a_cap == b_cap and np.array_equal(a_ids, b_ids)
    assert not np.array_equal(a_img, c_img)
    assert a_img.shape == (40, 32, 32, 3) and a_img.dtype == np.uint8
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in c) for c in a_cap)  # Chinese captions present
    assert any(c.isascii() for c in a_cap)


def test_background_is_exactly_flat_and_object_where_asked() -> None:
    scene = Scene("red", "square", "large", "left", "white")
    img = render(scene)
    assert tuple(img[0, -1]) == colour_rgb("white") and tuple(img[-1, -1]) == colour_rgb("white")
    assert tuple(img[16, 9]) == colour_rgb("red")
    assert tuple(img[16, 28]) == colour_rgb("white")


def test_analyser_reads_generator_scenes_back() -> None:
    rng = np.random.default_rng(31)
    for _ in range(300):
        scene = random_scene(rng)
        r = analyse(render(scene))
        assert (r.colour, r.background, r.position, r.shape) == (
            scene.colour,
            scene.background,
            scene.position,
            scene.shape,
        ), scene
        assert r.background_clean


def test_analyser_flags_a_noisy_background() -> None:
    img = render(Scene("blue", "circle", "small", "centre", "white")).astype(np.int16)
    noise = np.random.default_rng(0).integers(-70, 70, img.shape)
    r = analyse(np.clip(img + noise, 0, 255).astype(np.uint8))
    assert not r.background_clean
