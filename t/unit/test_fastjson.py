import json
import os

import pytest

from qganeti import fastjson

SAMPLES = [{"a": [1, 2.5, None, True, False, "x\u00e9\n\"", {"b": -3}], "c": 1e300},
           [], {}, "s", 3, -0.5, [[[]]], {"n": 10**20}]


@pytest.mark.parametrize("value", SAMPLES)
def test_same_text_and_values_as_json(value):
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert fastjson.loads(json.dumps(value, indent=2)) == value
    assert fastjson.loads(json.dumps(value).encode()) == value


def test_real_config_parses_identically():
    path = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti-samples", "state",
                        "config.data.pretty.json")
    with open(path) as handle:
        text = handle.read()
    assert fastjson.loads(text) == json.loads(text)


@pytest.mark.parametrize("bad", ["", "{", "[1,]", "1 2", "nul", "{'a': 1}"])
def test_bad_input_raises_valueerror(bad):
    with pytest.raises(ValueError):
        fastjson.loads(bad)
