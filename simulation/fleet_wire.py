"""The fleet's publishing connections: the bridge's wire client (``actors/bridge_wire.py``), publishing QoS 1 without
awaiting each PUBACK.

Through aiomqtt a storm's 5,000 alarms cost the simulator ~150 µs of its process's one core each (paho's message and
message-info objects with their lock, a future and a ``wait_for`` per publish, the PUBACK's callbacks): the fleet took
1.4-1.8 s to publish what was due within 1 s. Here a publish is one frame written at once while fewer than ``window``
of the connection's QoS 1 publishes await their PUBACK (within the broker's receive maximum); past it, publishes are
held in order (bounded) and written as PUBACKs make room. A device does not wait for the PUBACK: it waits for the
engine's ack on its ack topic, and the fleet publishes an alarm again until that comes (``Fleet._retry``). A lost
connection loses what was held or unanswered, which the retry publishes again (QoS 0 telemetry is lost, as on a real
network).
"""

from __future__ import annotations

from collections import deque

from actors.bridge_wire import WireClient, WireError
from protocols import mqtt_frames as mf

WINDOW = 128
"""QoS 1 publishes of one connection awaiting their PUBACK at most (Mosquitto's receive maximum here is 200)."""


class FleetWire(WireClient):
    """One publishing connection of the fleet; :meth:`send` never waits."""

    def __init__(self, host: str, port: int, *, client_id: str, username: str | None, password: str | None,
                 max_held: int, window: int = WINDOW, timeout_s: float = 10.0) -> None:
        super().__init__(host, port, client_id=client_id, username=username, password=password, keepalive_s=30,
                         session_expiry_s=0, receive_maximum=16, timeout_s=timeout_s, max_queued=64)
        self.window, self.max_held = window, max_held
        self.refused = 0
        """QoS 1 publishes the broker answered with an error code (not authorised...)."""
        self._unanswered: set[int] = set()
        self._held: deque[tuple[str, bytes, int]] = deque()

    @property
    def held(self) -> int:
        return len(self._held)

    def send(self, topic: str, payload: bytes, *, qos: int) -> bool:
        """Write the publish now, or hold it behind the ones already held (a device's messages stay in order);
        False when the connection is gone or no more can be held (the message is not sent)."""
        proto = self.protocol
        if proto is None or proto.closed is not None:
            return False
        if self._held or (qos and len(self._unanswered) >= self.window):
            if len(self._held) >= self.max_held:
                return False
            self._held.append((topic, payload, qos))
            return True
        proto.transport.write(self._frame(topic, payload, qos))
        return True

    def _frame(self, topic: str, payload: bytes, qos: int) -> bytes:
        if not qos:
            return mf.publish(topic, payload)
        pid = self._packet_id()
        while pid in self._unanswered:  # an id still unanswered is skipped (at most ``window`` of them)
            pid = self._packet_id()
        self._unanswered.add(pid)
        return mf.publish(topic, payload, qos=1, packet_id=pid)

    def handle_control(self) -> None:
        proto = self.protocol
        for kind, body in proto.frames.control:
            if kind == mf.PUBACK:
                pid, code = mf.puback(body)
                self._unanswered.discard(pid)
                self.refused += code >= 0x80
        super().handle_control()
        self._release()

    def _release(self) -> None:
        """Write what is held, as far as the window allows, in one write."""
        proto, held = self.protocol, self._held
        if not held or proto is None or proto.closed is not None:
            return
        frames = []
        while held and (not held[0][2] or len(self._unanswered) < self.window):
            topic, payload, qos = held.popleft()
            frames.append(self._frame(topic, payload, qos))
        if frames:
            proto.transport.write(b"".join(frames))

    def _fail_waiting(self, why: WireError) -> None:
        super()._fail_waiting(why)
        self._unanswered.clear()
        self._held.clear()
