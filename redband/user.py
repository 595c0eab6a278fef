"""``redband user add``: add or replace a console operator in the users file (argon2-hashed password, 0600). A
station's or a guard room's scope is checked against the city the engine runs, which must be named."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from redband.files import add_operator
from engine.operators import Role
from engine.topology import load_city

DEFAULT_USERS = "var/users.toml"


def register(sub) -> None:
    user = sub.add_parser("user", help="console operators").add_subparsers()
    add = user.add_parser("add", help="add or replace an operator (argon2-hashed password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--scope", default="", help="a station's precinct id, a guard room's site id")
    add.add_argument("--users", default=DEFAULT_USERS, help=f"the users file (default {DEFAULT_USERS})")
    add.add_argument("--city", default=None,
                     help="the city file the engine runs: a scope is checked against it (required with --scope)")
    add.add_argument("--password", default=None, help="default: asked for on the terminal")
    add.set_defaults(func=cmd_user_add)


def cmd_user_add(args) -> int:
    if args.role != Role.COMMAND_CENTER.value and not args.scope:
        print(f"error: --scope: a {args.role} operator needs one (a station: its precinct id; a guard room: its "
              f"site id; a grid worker: its grid id, the zone's name with '-' for spaces)", file=sys.stderr)
        return 2
    if args.scope and not args.city:
        print(f"error: --city: needed to check --scope {args.scope!r} (the city file the engine runs)",
              file=sys.stderr)
        return 2
    city = load_city(args.city) if args.city else None
    password = args.password or getpass.getpass(f"password for {args.name}: ")
    if not password:
        print("error: password: must not be empty", file=sys.stderr)
        return 2
    operator = add_operator(Path(args.users), name=args.name, role=Role(args.role), scope=args.scope,
                            password=password, city=city)
    where = f" for {operator.jurisdiction.scope}" if operator.jurisdiction.scope else ""
    print(f"{args.users}: operator {operator.name}, {operator.jurisdiction.role.value}{where}")
    return 0
