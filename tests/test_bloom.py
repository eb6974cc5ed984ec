"""hub.bloom.Bloom: never a false negative; sized ≥ 16 bits per expected key, within its bounds."""

from hub.bloom import Bloom


def test_every_key_added_is_found_and_most_others_are_not():
    bloom = Bloom(10_000)
    keys = [b"k%d" % i for i in range(10_000)]
    for k in keys:
        bloom.add(k)
    assert all(k in bloom for k in keys)
    false = sum(b"other%d" % i in bloom for i in range(10_000))
    assert false < 300  # two bits of ≥ 16 per key: ≈ 1 % expected


def test_sizes_and_their_bounds():
    assert len(Bloom(0).bits) * 8 == 1 << 20  # the floor
    assert len(Bloom(1_000_000).bits) * 8 == 1 << 24  # 16 M bits ≥ 16 per key
    assert len(Bloom(1_000_000, max_log2=22).bits) * 8 == 1 << 22
    assert len(Bloom(0, min_log2=23).bits) * 8 == 1 << 23
