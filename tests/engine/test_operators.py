"""Operators, their jurisdictions and their tokens: pure, no server."""

from __future__ import annotations

import pytest

from engine.citygen import generate_city
from engine.errors import ConfigError
from redband.files import add_operator
from engine.operators import (Jurisdiction, Role, TokenError, TokenSigner, load_operators,
                              operators_from_text)
from protocols import Level
from tests.engine.helpers import SMALL, Pair


def test_add_then_load_operators_with_argon2_hashes(tmp_path):
    city = generate_city(SMALL)
    users = tmp_path / "users.toml"
    school = next(s for s in city.sites.values() if s.guard_room_id and s.kind.value == "school")
    add_operator(users, name="cc-duty", role=Role.COMMAND_CENTER, scope="", password="cc pass", city=city)
    add_operator(users, name="p1-duty", role=Role.STATION, scope="P1", password="p1 pass", city=city)
    add_operator(users, name="guard", role=Role.GUARD_ROOM, scope=school.id, password="g pass", city=city)
    add_operator(users, name="p1-duty", role=Role.STATION, scope="P1", password="new pass", city=city)  # replaced
    text = users.read_text()
    assert "p1 pass" not in text and text.count("$argon2id$") == 3
    operators = load_operators(users, city=city)
    assert sorted(operators) == ["cc-duty", "guard", "p1-duty"]
    assert operators["p1-duty"].check_password("new pass") and not operators["p1-duty"].check_password("p1 pass")
    assert operators["guard"].jurisdiction.responder(city) == school.guard_room_id
    assert operators["cc-duty"].jurisdiction.responder(city) == city.command_center.id
    assert operators["p1-duty"].jurisdiction.level is Level.POLICE_STATION


def test_bad_users_files_are_refused_by_line_and_field(tmp_path):
    city = generate_city(SMALL)
    with pytest.raises(ConfigError, match=r"u\.toml:4: operators\[0\]\.password: must be an argon2 hash"):
        operators_from_text('[[operators]]\nname = "x"\nrole = "station"\npassword = "plain"\nscope = "P1"\n',
                            file="u.toml")
    with pytest.raises(ConfigError, match=r"operators\[0\]\.role: invalid enum value 'janitor'"):
        operators_from_text('[[operators]]\nname = "x"\nrole = "janitor"\npassword = "$argon2id$x"\n', file="u.toml")
    with pytest.raises(ConfigError, match=r"operators\[0\]\.scope: no precinct 'P9'"):
        operators_from_text('[[operators]]\nname = "x"\nrole = "station"\nscope = "P9"\npassword = "$argon2id$x"\n',
                            file="u.toml", city=city)
    with pytest.raises(ConfigError, match="scope"):
        add_operator(tmp_path / "u.toml", name="y", role=Role.GUARD_ROOM, scope="nowhere", password="p", city=city)


def test_jurisdictions_scope_what_an_operator_sees():
    pair = Pair()
    box = pair.device("panic_box")
    pair.send(box, "school.panic")
    (record,) = pair.host.open_incidents()
    site = record.site_id
    assert Jurisdiction(Role.COMMAND_CENTER, "").sees(record)
    assert Jurisdiction(Role.STATION, record.precinct_id).sees(record)
    assert not Jurisdiction(Role.STATION, "P9").sees(record)
    assert Jurisdiction(Role.GUARD_ROOM, site).sees(record)
    assert not Jurisdiction(Role.GUARD_ROOM, "C0001").sees(record)


def test_tokens_are_signed_and_expire(tmp_path):
    city = generate_city(SMALL)
    users = tmp_path / "users.toml"
    op = add_operator(users, name="p1-duty", role=Role.STATION, scope="P1", password="pw", city=city)
    signer = TokenSigner()
    token, claims = signer.issue(op, now_s=100.0, ttl_s=60.0)
    assert signer.verify(token, now_s=159.0) == claims and claims.scope == "P1"
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, now_s=160.0)
    with pytest.raises(TokenError, match="signature"):
        TokenSigner().verify(token, now_s=100.0)  # another gateway's secret
    body, _, sig = token.partition(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(TokenError):
        signer.verify(f"{forged_body}.{sig}", now_s=100.0)
    with pytest.raises(TokenError, match="malformed"):
        signer.verify("garbage", now_s=100.0)
