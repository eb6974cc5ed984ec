"""hub.validation.jsontext: what json.loads accepts but no system can carry on."""

from __future__ import annotations

import pytest

from hub.validation.jsontext import loads_strict


@pytest.mark.parametrize("text", [
    '{"a": NaN}', '{"a": -Infinity}', '[Infinity]',
    '{"a": "\\ud800"}', '{"\\udfff": 1}', '[["\\ud83d x"]]',  # lone surrogates, as values, keys, nested
    "[" * 100_000 + "]" * 100_000,
    '{"a": 1, "a": 2}', '[{"b": {"c": 1, "c": 1}}]',  # a key twice in one object, at any depth
])
@pytest.mark.parametrize("kind", [str, lambda t: t.encode()], ids=["str", "bytes"])
def test_refused(text, kind):
    with pytest.raises(ValueError):
        loads_strict(kind(text))


def test_what_json_carries_is_kept():
    text = '{"a": "\\u00e9\\ud83d\\ude00", "b": [1, 2.5, null, true], "c": {"d": "\\\\ud800"}}'
    assert loads_strict(text) == {"a": "é😀", "b": [1, 2.5, None, True], "c": {"d": "\\ud800"}}
    assert loads_strict(text.encode()) == loads_strict(text)


def test_a_key_given_twice_is_named():
    with pytest.raises(ValueError, match="clé 'cti' en double dans un objet"):
        loads_strict('{"cti": "A", "uai": "x", "cti": "B"}')
    assert loads_strict('{"cti": "A", "CTI": "B"}') == {"cti": "A", "CTI": "B"}  # JSON is case-sensitive
