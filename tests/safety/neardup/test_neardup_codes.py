import numpy as np
import pytest
from PIL import ImageOps

from safety.neardup.codes import CODE_BYTES, CodeType, hamming, image_codes, query_codes
from safety.neardup.testing import jpeg, photo


def test_codes_are_64_bit_and_deterministic():
    im = photo("coffee")
    a, b = image_codes(im, [CodeType.PHASH, CodeType.DHASH]), image_codes(im.copy(), list(CodeType))
    for ct in CodeType:
        assert a[ct].dtype == np.uint8 and a[ct].shape == (CODE_BYTES,)
        assert np.array_equal(a[ct], b[ct])
    assert not np.array_equal(a[CodeType.PHASH], a[CodeType.DHASH])


def test_packing_matches_imagehash_bits():
    import imagehash

    im = photo("camera")
    ours = image_codes(im, [CodeType.PHASH])[CodeType.PHASH]
    bits = imagehash.phash(im.convert("L")).hash.reshape(-1)
    assert np.array_equal(np.unpackbits(ours).astype(bool), bits)


def test_hamming_counts_bits():
    a = np.zeros(8, np.uint8)
    b = a.copy()
    b[0], b[7] = 0b1011, 0x80
    assert hamming(a, b) == 4


@pytest.mark.parametrize("name", ["astronaut", "coffee", "page"])
def test_query_codes_equal_imagehash_of_the_image_and_of_its_mirror(name):
    import imagehash

    im = photo(name).crop((0, 0, 301, 211))  # odd sizes too: the mirror is taken after shrinking
    q = query_codes(im, list(CodeType))
    for ct, fn in ((CodeType.PHASH, imagehash.phash), (CodeType.DHASH, imagehash.dhash)):
        assert q[ct].shape == (2, CODE_BYTES)
        assert np.array_equal(np.unpackbits(q[ct][0]).astype(bool), fn(im).hash.reshape(-1))
        assert np.array_equal(np.unpackbits(q[ct][1]).astype(bool), fn(ImageOps.mirror(im)).hash.reshape(-1))
        assert np.array_equal(q[ct][0], image_codes(im, [ct])[ct])
    assert query_codes(im, [CodeType.PHASH], mirror=False)[CodeType.PHASH].shape == (1, CODE_BYTES)


def test_jpeg_stays_close_and_other_photos_are_far():
    a = image_codes(photo("chelsea"), [CodeType.PHASH])[CodeType.PHASH]
    j = image_codes(jpeg(photo("chelsea")), [CodeType.PHASH])[CodeType.PHASH]
    other = image_codes(photo("rocket"), [CodeType.PHASH])[CodeType.PHASH]
    assert hamming(a, j) <= 4
    assert hamming(a, other) > 16
