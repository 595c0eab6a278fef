"""Errors raised while decoding wire data.

    ProtocolError          bad bytes from a device, a broker or a peer host
      field: str           dotted path of the offending field ("data.floor"), or "" for the whole payload
      reason: str          what is wrong with it ("expected int, got str")

``str(err)`` is ``"data.floor: expected int, got str"``: the text a NAK carries back to the device.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """A payload that cannot be accepted; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)

    def __reduce__(self):  # crosses Ray and process boundaries intact
        return type(self), (self.field, self.reason)
