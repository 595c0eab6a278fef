"""Console operators: who may log in, what each sees, and the signed tokens that carry it.

Operators live in a users TOML with argon2 password hashes::

    [[operators]]
    name = "p3-duty"
    role = "station"          # command_center | station | guard_room | grid_worker
    scope = "P3"              # a station's precinct, a guard room's site, a grid worker's grid; "" for the center
    password = "$argon2id$v=19$..."

A station sees its precinct's incidents, a guard room its site's, a grid worker its grid's (the sites of one zone,
``engine/grids.py``), the command center everything. Each acts for one responder entity: the precinct's station,
the site's guard room, the command center. A grid worker acts for the guard room of the incident's site, and only
to acknowledge it, report on scene or resolve it (``GRID_WORKER_ACTIONS``, a note as the comment): it does not end,
dispatch, hand back or review tips, which stay with the guard room and the police. Its consoles confirm no delivery
(it is not a notified responder).

Tokens are ``base64url(claims JSON).base64url(HMAC-SHA256)``, with an id (``jti``: 16 random bytes, what a
revocation names), the time it was issued and an expiry; the secret is the gateway's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import argon2
import tomli_w
from msgspec import Meta, Struct

from engine.errors import ConfigError
from engine.grids import grid_sites, grids
from engine.tomlconf import convert, error_at, parse_toml, read_text
from engine.topology import City
from protocols import Level
from protocols.records import Action, IncidentRecord

TOKEN_TTL_S = 8 * 3600.0
_hasher = argon2.PasswordHasher()


class Role(StrEnum):
    COMMAND_CENTER = "command_center"
    STATION = "station"
    GUARD_ROOM = "guard_room"
    GRID_WORKER = "grid_worker"


_LEVEL_OF_ROLE = {Role.COMMAND_CENTER: Level.COMMAND_CENTER, Role.STATION: Level.POLICE_STATION,
                  Role.GUARD_ROOM: Level.GUARD_ROOM, Role.GRID_WORKER: Level.GUARD_ROOM}
GRID_WORKER_ACTIONS: frozenset[Action] = frozenset({Action.ACKNOWLEDGE, Action.ON_SCENE, Action.RESOLVE})
"""What a grid worker may do to an incident of its grid (for the site's guard room)."""

Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]


class _Operator(Struct, forbid_unknown_fields=True):
    name: Name
    role: Role
    password: str
    scope: str = ""


class _UsersFile(Struct, forbid_unknown_fields=True):
    operators: list[_Operator] = []


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """What an operator sees and acts for. ``sites``: a grid worker's grid's sites (:meth:`of` fills them from the
    city; without them a grid worker sees nothing)."""

    role: Role
    scope: str
    sites: frozenset[str] = frozenset()

    @classmethod
    def of(cls, city: City, role: Role, scope: str) -> "Jurisdiction":
        return cls(role, scope, grid_sites(city, scope) if role is Role.GRID_WORKER else frozenset())

    @property
    def level(self) -> Level:
        return _LEVEL_OF_ROLE[self.role]

    def sees(self, record: IncidentRecord) -> bool:
        match self.role:
            case Role.COMMAND_CENTER:
                return True
            case Role.STATION:
                return record.precinct_id == self.scope
            case Role.GUARD_ROOM:
                return record.site_id == self.scope
            case Role.GRID_WORKER:
                return record.site_id in self.sites
        return False  # pragma: no cover - Role is closed

    def sees_site(self, site_id: str | None, precinct_id: str) -> bool:
        if self.role is Role.COMMAND_CENTER:
            return True
        if self.role is Role.STATION:
            return precinct_id == self.scope
        if self.role is Role.GRID_WORKER:
            return site_id in self.sites
        return site_id == self.scope

    def refuses(self, action: Action) -> str | None:
        """Why this operator may not take ``action`` on an incident it sees (None: it may)."""
        if self.role is Role.GRID_WORKER and action not in GRID_WORKER_ACTIONS:
            allowed = ", ".join(sorted(a.value for a in GRID_WORKER_ACTIONS))
            return f"action: a grid worker may only {allowed}, not {action.value}"
        return None

    def responder_for(self, city: City, record: IncidentRecord) -> str:
        """The entity this operator acts for on ``record``: a grid worker, the guard room of the incident's site."""
        if self.role is Role.GRID_WORKER:
            site = city.sites.get(record.site_id)
            return site.guard_room_id or "" if site is not None else ""
        return self.responder(city)

    def responder(self, city: City) -> str:
        """The entity this operator acts for: the command center, the station, the guard room; "" for a grid worker
        (it acts for the guard room of each incident's site: :meth:`responder_for`)."""
        match self.role:
            case Role.COMMAND_CENTER:
                return city.command_center.id
            case Role.STATION:
                return city.precincts[self.scope].station_id
            case Role.GUARD_ROOM:
                guard_room = city.sites[self.scope].guard_room_id
                assert guard_room is not None  # checked when the operator was loaded
                return guard_room
            case Role.GRID_WORKER:
                return ""
        raise AssertionError(self.role)  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    jurisdiction: Jurisdiction
    password_hash: str

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_scope(city: City, role: Role, scope: str) -> str | None:
    """Why ``scope`` does not fit ``role`` in this city, or None."""
    if role is Role.COMMAND_CENTER:
        return None if scope in ("", city.command_center.id) else "the command center's scope is empty"
    if role is Role.STATION:
        return None if scope in city.precincts else f"no precinct {scope!r} in city {city.id}"
    if role is Role.GRID_WORKER:
        return None if scope in grids(city) else f"no grid {scope!r} in city {city.id} (a grid id: the zone's name " \
            "with '-' for spaces, say 'P1-north-east-grid')"
    site = city.sites.get(scope)
    if site is None:
        return f"no site {scope!r} in city {city.id}"
    return None if site.guard_room_id else f"site {scope!r} has no guard room"


def operators_from_text(text: str, *, file: str, city: City | None = None) -> dict[str, Operator]:
    raw = convert(parse_toml(text, file=file), _UsersFile, file=file, text=text)
    out: dict[str, Operator] = {}
    for i, op in enumerate(raw.operators):
        if op.name in out:
            raise error_at(file, text, ("operators", i, "name"), f"operator {op.name!r} is named twice")
        if not op.password.startswith("$argon2"):
            raise error_at(file, text, ("operators", i, "password"), "must be an argon2 hash (redband user add)")
        if city is not None and (why := check_scope(city, op.role, op.scope)):
            raise error_at(file, text, ("operators", i, "scope"), why)
        scope = "" if op.role is Role.COMMAND_CENTER else op.scope
        jurisdiction = Jurisdiction.of(city, op.role, scope) if city is not None else Jurisdiction(op.role, scope)
        out[op.name] = Operator(op.name, jurisdiction, op.password)
    return out


def load_operators(path: str | Path, *, city: City | None = None) -> dict[str, Operator]:
    return operators_from_text(read_text(path), file=str(path), city=city)


def with_operator(text: str | None, *, file: str, name: str, role: Role, scope: str, password: str,
                  city: City | None = None) -> tuple[str, Operator]:
    """The users file's text with one operator added (or replaced), and that operator. ``text`` None: a new file.
    A broken file is refused (raises), never rewritten; the writer is ``redband/files.add_operator``."""
    data = parse_toml(text, file=file) if text is not None else {}
    if text is not None:
        operators_from_text(text, file=file)
    if city is not None and (why := check_scope(city, role, scope)):
        raise ConfigError(file, None, "scope", why)
    entry = {"name": name, "role": role.value, "scope": "" if role is Role.COMMAND_CENTER else scope,
             "password": hash_password(password)}
    operators = [o for o in data.get("operators", []) if o.get("name") != name] + [entry]
    new_text = tomli_w.dumps({"operators": operators})
    return new_text, operators_from_text(new_text, file=file)[name]  # validates the name too


# -- tokens ------------------------------------------------------------------------------------------


class TokenError(Exception):
    """A token that cannot be used; the message says why (expired, bad signature, malformed, revoked).
    ``claims``: what the token says, when its signature was good (an expired or revoked token's), else None."""

    def __init__(self, message: str, claims: "Claims | None" = None) -> None:
        super().__init__(message)
        self.claims = claims


@dataclass(frozen=True, slots=True)
class Claims:
    operator: str
    role: Role
    scope: str
    expires_s: float
    token_id: str = ""
    """The token's ``jti``: what a revocation names."""
    issued_s: float = 0.0


class TokenSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    def issue(self, operator: Operator, *, now_s: float, ttl_s: float = TOKEN_TTL_S) -> tuple[str, Claims]:
        claims = Claims(operator.name, operator.jurisdiction.role, operator.jurisdiction.scope, now_s + ttl_s,
                        secrets.token_urlsafe(16), now_s)
        body = _b64(json.dumps({"op": claims.operator, "role": claims.role.value, "scope": claims.scope,
                                "exp": claims.expires_s, "jti": claims.token_id, "iat": claims.issued_s},
                               separators=(",", ":")).encode())
        return f"{body}.{_b64(self._sign(body))}", claims

    def verify(self, token: str, *, now_s: float) -> Claims:
        body, _, signature = token.partition(".")
        if not body or not signature:
            raise TokenError("malformed token")
        if not hmac.compare_digest(_b64(self._sign(body)), signature):
            raise TokenError("bad token signature")
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            claims = Claims(str(data["op"]), Role(data["role"]), str(data["scope"]), float(data["exp"]),
                            str(data["jti"]), float(data["iat"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"malformed token: {exc}") from None
        if claims.expires_s <= now_s:
            raise TokenError("token expired", claims)
        return claims

    def _sign(self, body: str) -> bytes:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
