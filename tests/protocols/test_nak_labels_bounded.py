"""``/metrics`` counts NAKs by the field their reason names (``redband_bridge_naks_total{reason=...}``,
``engine.measures.reason_label``): whatever a device publishes, on whatever topic, the label is made of the
schema's own names, never of anything the device chose (a key, a value, an index, its id), so no device can grow
the number of series."""

from __future__ import annotations

import json
import typing

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.measures import reason_label
from protocols.device_schema import MESSAGE_TYPES
from protocols.inbound import Refused, classify


def _names(cls, seen: set) -> set[str]:
    """Every field name of ``cls`` and of the structs its fields hold."""
    names: set[str] = set()
    if cls in seen or not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        return names
    seen.add(cls)
    for field in msgspec.structs.fields(cls):
        names.add(field.encode_name)
        for inner in _types_in(field.type):
            names |= _names(inner, seen)
    return names


def _types_in(annotation) -> list:
    found = [annotation]
    for arg in typing.get_args(annotation):  # Optional, unions, Annotated's type
        found += _types_in(arg)
    return found


SCHEMA_NAMES = set().union(*(_names(cls, set()) for cls in MESSAGE_TYPES.values()))
OWN_LABELS = {"payload", "topic", "device_id", "kind", "state", "other", "unavailable"}
KINDS = [kind.value for kind in MESSAGE_TYPES]
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=12)
_field_values = st.dictionaries(st.sampled_from(sorted(SCHEMA_NAMES)) | st.text(max_size=12), _json, max_size=6)


def _allowed(label: str) -> bool:
    return label in OWN_LABELS or all(part in SCHEMA_NAMES | {"data"} for part in label.split("."))


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(KINDS) | st.text(max_size=20), seq=_json, data=_field_values, extra=_field_values,
       device=st.text(max_size=70), channel=st.sampled_from(["alarm", "evt", "state", "ack", "x"]))
def test_whatever_a_device_publishes_its_nak_is_labelled_by_a_schema_name(kind, seq, data, extra, device, channel):
    payload = json.dumps({"seq": seq, "ts": 1, "kind": kind, "data": data, **extra}).encode()
    verdict = classify(f"rb/v1/dev/{device}/{channel}", payload)
    if isinstance(verdict, Refused):
        label = reason_label(verdict.reason)
        assert _allowed(label), (label, verdict.reason)


def test_the_schema_names_were_found():
    assert {"zone", "seq", "data", "unit", "floor"} <= SCHEMA_NAMES
