"""Points rules from TOML: how many points each earning reason is worth (defaults in ``default_points.toml``).

Errors name the file, line and key (``engine/tomlconf.py``). A penalty rule (``sos_false``) is zero or negative and
never takes a balance below zero: the ledger applies what the balance holds and forgives the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from engine.tomlconf import convert, parse_toml, read_text
from protocols.points import PointsReason

Credit = Annotated[int, Meta(ge=0, le=100_000)]
Penalty = Annotated[int, Meta(ge=-100_000, le=0)]


class _RulesFile(Struct, forbid_unknown_fields=True):
    patrol_hour: Credit | UnsetType = UNSET
    tip_accepted: Credit | UnsetType = UNSET
    emergency_handled: Credit | UnsetType = UNSET
    sos_false: Penalty | UnsetType = UNSET
    shop: dict | UnsetType = UNSET
    """The shop's catalogue (``engine/points_catalogue.py`` reads it)."""


@dataclass(frozen=True, slots=True)
class PointsRules:
    """Points per reason. ``patrol_hour`` is per valid hour, pro-rata; the others are per event."""

    patrol_hour: int = 10
    tip_accepted: int = 20
    emergency_handled: int = 50
    sos_false: int = -10

    def points_for(self, reason: PointsReason, *, valid_s: float = 0.0) -> int:
        """What ``reason`` earns (negative: a penalty). A patrol earns whole points for ``valid_s`` seconds, the
        fraction dropped: 5,400 s at 10/h is 15."""
        match reason:
            case PointsReason.PATROL:
                # A small slack so 1.5 h measured as 5399.9999999 s still earns its 15.
                return math.floor(valid_s * self.patrol_hour / 3600.0 + 1e-6)
            case PointsReason.TIP_ACCEPTED:
                return self.tip_accepted
            case PointsReason.EMERGENCY_HANDLED:
                return self.emergency_handled
            case PointsReason.SOS_FALSE:
                return self.sos_false
            case _:
                raise ValueError(f"{reason.value} is not earned by a rule")


DEFAULT_POINTS_FILE = "default_points.toml"


def points_rules_from_text(text: str, *, file: str, base: PointsRules | None = None) -> PointsRules:
    """The rules in ``text``; keys it does not name keep ``base``'s values (the built-in values without one)."""
    raw = convert(parse_toml(text, file=file), _RulesFile, file=file, text=text)
    given = {name: getattr(raw, name) for name in _RulesFile.__struct_fields__
             if getattr(raw, name) is not UNSET and name != "shop"}
    return replace(base or PointsRules(), **given)


def load_points_rules(path: str | Path) -> PointsRules:
    """The rules in the file at ``path`` over the shipped defaults."""
    return points_rules_from_text(read_text(path), file=str(path), base=default_points_rules())


def default_points_rules() -> PointsRules:
    text = resources.files("engine").joinpath(DEFAULT_POINTS_FILE).read_text(encoding="utf-8")
    return points_rules_from_text(text, file=f"engine/{DEFAULT_POINTS_FILE}")


def load_points_rule_set(path: str | Path | None) -> PointsRules:
    """The shipped defaults, with the keys named in ``path`` (if any) replaced."""
    return default_points_rules() if path is None else load_points_rules(path)
