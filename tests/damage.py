"""Byte-level damage to a valid file, as transfers, editors and hand-made exports do it:
for the fuzz tests of every reader (connectors, directory)."""

from __future__ import annotations

from hypothesis import strategies as st

# Bytes that matter to the formats: separators, quotes, markup, YAML syntax (anchors,
# tags), line ends, non-ASCII.
_NOISE = st.sampled_from([b";", b",", b'"', b"\n", b"\r\n", b"<", b">", b"&", b"/", b"{", b"}", b"\\", b"\x00",
                          b"\xff", b"\xe9", b"\xc3", b"2026", b"99/99/2026", b"-", b" ", b": ", b"- ", b"\t", b"#",
                          b"&a", b"*a", b"!!python/object/apply:os.system", b"null"])
DAMAGE = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.one_of(_NOISE, st.binary(min_size=1, max_size=6))),
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.one_of(_NOISE, st.binary(min_size=1, max_size=4))),
    st.tuples(st.just("repeat_line"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("swap"), st.sampled_from([(b";", b","), (b"/", b"-"), (b"<", b"["), (b'"', b"'"), (b":", b";")]),
              st.just(b"")),
)


def damage(data: bytes, steps: list[tuple]) -> bytes:
    for kind, where, what in steps:
        if kind == "swap":
            data = data.replace(*where)
            continue
        at = int(where * len(data))
        if kind == "cut":
            data = data[:at] + data[at + what:]
        elif kind == "insert":
            data = data[:at] + what + data[at:]
        elif kind == "overwrite":
            data = data[:at] + what + data[at + len(what):]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "repeat_line":
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end + 1
            data = data[:end] + data[start:end] + data[end:]
    return data
