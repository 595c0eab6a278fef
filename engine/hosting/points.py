"""Points at a host: every ended patrol earns its valid hours pro-rata, every emergency a volunteer's task saw through
earns the rule's points (``engine/default_points.toml``), written to the journal with the step that earned them.
Each precinct host holds the points of the volunteers whose phones it holds, and its own shop (a street office's):
the catalogue (``[[shop.items]]``) is put into the book when the host first starts (``engine/points_catalogue.py``).

The phone spends and asks (routes in :meth:`engine.host.HostCore._assemble`): ``points.redeem`` is decided and
journaled in its step, before the ack, and answered with the command ``points.redeemed``; ``points.query`` with
``points.statement``. A redemption's request id is the volunteer's own (journaled as ``<volunteer>/<request>``), so
a phone's retry, or the office redeeming with the same id, gets the first answer and no second debit. Operators
ask the desk (:meth:`HostPoints.requests`, ``engine/hosting/points_desk.py``).

The book is made from the journal's points rows at every (re)build, so a step the journal refused leaves no points
behind. Patrols themselves are not journaled yet: a patrol that ended in a refused step is not credited again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from engine.city_model import City
from engine.entities import DeviceEntity
from engine.hosting.intake import Route
from engine.hosting.points_desk import points_requests
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand
from engine.journal import Journal
from engine.patrol.patrol import PatrolSummary
from engine.points import PointsBook, rebuild
from engine.points_catalogue import CatalogueItem, load_catalogue, seed
from engine.points_rules import PointsRules, load_points_rule_set
from engine.points_views import redeemed_args, statement_args
from protocols.device import DeviceMessage
from protocols.kinds import EventKind
from protocols.points import PointsReason, Redemption, RedemptionStatus, decode_row


class HostPoints:
    def __init__(self, city: City, *, staging: JournalStaging, rules: PointsRules | None = None,
                 send: Callable[[DeviceCommand, float], None] | None = None,
                 shop: bool = True, catalogue: tuple[CatalogueItem, ...] | None = None) -> None:
        self.rules = rules or load_points_rule_set(None)
        self.staging = staging
        self.send = send
        self.city = city
        self.catalogue = () if not shop else load_catalogue() if catalogue is None else catalogue
        """Put into the book at the first start (none for a host without a shop: the command center's)."""
        self.book = PointsBook(rules)
        self._volunteer_of = {v.phone_id: v.id for v in city.volunteers.values()}

    def load(self, journal: Journal, *, now_s: float = 0.0) -> None:
        """The book as the journal has it (a start, or a rebuild after a refused step), with the catalogue's items it
        does not hold yet (staged: journaled with the next step; a restart before it puts them in again)."""
        self.book = rebuild((decode_row(raw) for raw in journal.points_rows()), rules=self.rules)
        self.staging.points(seed(self.book, self.catalogue, t_s=now_s))

    def patrol_ended(self, summary: PatrolSummary, now_s: float) -> None:
        if not self.holds(summary.volunteer):
            return  # a phone no volunteer owns earns nobody points
        ref = _unused_patrol_ref(self.book, summary.volunteer, summary.patrol_id)
        credited = self.book.credit_patrol(summary.volunteer, ref, valid_s=summary.valid_s, t_s=now_s)
        self.staging.points(credited.rows)

    def task_done(self, unit_id: str, incident_id: str, now_s: float) -> None:
        """A volunteer's phone reported the task done: the emergency handled is credited to its volunteer."""
        volunteer = self._volunteer_of.get(unit_id)
        if volunteer is not None:
            credited = self.book.credit(volunteer, PointsReason.EMERGENCY_HANDLED, incident_id, t_s=now_s)
            self.staging.points(credited.rows)

    # -- the phone -----------------------------------------------------------------------------------------------

    def routes(self) -> dict[EventKind, Route]:
        return {EventKind.POINTS_REDEEM: Route(self.phone_redeem), EventKind.POINTS_QUERY: Route(self.phone_query)}

    def phone_redeem(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """``points.redeem`` from a volunteer phone: decided, journaled with the step, answered ``points.redeemed``."""
        data = message.data
        volunteer = self._volunteer_of.get(entity.device.id, "")
        outcome = self.redeem(data.request, volunteer, data.item, data.quantity, now_s)
        self._send(entity.device.id, "points.redeemed", redeemed_args(data.request, outcome, self._balance(outcome)),
                   now_s)

    def phone_query(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        """``points.query``: the month's statement (the current month by default) as ``points.statement``."""
        month = message.data.month or datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m")
        volunteer = self._volunteer_of.get(entity.device.id, "")
        self._send(entity.device.id, "points.statement", statement_args(self.book.statement(volunteer, month)), now_s)

    # -- shared by the phone and the office ----------------------------------------------------------------------

    def redeem(self, request: str, volunteer: str, item: str, quantity: int, now_s: float) -> Redemption:
        """Decide a redemption (staged with the step); a refusal is an outcome. The id is kept per volunteer."""
        redeemed = self.book.redeem(f"{volunteer}/{request}", volunteer, item, t_s=now_s, quantity=quantity)
        self.staging.points(redeemed.rows)
        return redeemed.outcome

    def holds(self, volunteer: str) -> bool:
        return volunteer in self.city.volunteers

    def _balance(self, outcome: Redemption) -> int:
        if outcome.status is RedemptionStatus.CONFLICT or not outcome.volunteer_id:
            return self.book.balance(outcome.volunteer_id) if outcome.volunteer_id else 0
        return outcome.balance_after

    def _send(self, device_id: str, command: str, args: dict, now_s: float) -> None:
        if self.send is not None:
            self.send(DeviceCommand(device_id, command, args), now_s)

    def requests(self) -> dict:
        """The desk's points requests (``protocols/points_desk.py``)."""
        return points_requests(self)


def _unused_patrol_ref(book: PointsBook, volunteer: str, patrol_id: str) -> str:
    """A patrol ends once (its end and its points go in one step), so a patrol id already credited is an earlier
    patrol's that the phone reused: its seqs began again without a boot id. This one is credited as ``<id>~2``..."""
    used = {e.ref for e in book.entries(volunteer) if e.reason is PointsReason.PATROL}
    ref, n = patrol_id, 1
    while ref in used:
        n += 1
        ref = f"{patrol_id}~{n}"
    return ref
