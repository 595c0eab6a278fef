"""The points shop's catalogue from TOML: the ``[[shop.items]]`` of the points file (``engine/default_points.toml``
when none is given), put into a host's book when it first starts.

Seeding is idempotent: an item the book already holds (journaled by an earlier start, then perhaps restocked or
repriced by the command center) is left alone, so a restart never resets stock; only items new to the catalogue
are added, each with its initial stock. Errors name the file, line and key (``engine/tomlconf.py``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

from msgspec import Meta, Struct, field

from engine.points import PointsBook
from engine.points_rules import DEFAULT_POINTS_FILE
from engine.points_shop import MAX_PRICE, MAX_STOCK
from engine.tomlconf import convert, error_at, parse_toml, read_text
from protocols.points import ItemCategory, ItemRow

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
MAX_ITEMS = 500


class CatalogueItem(Struct, frozen=True, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=64, pattern=_ID)]
    name: Annotated[str, Meta(min_length=1, max_length=128)]
    category: ItemCategory
    price: Annotated[int, Meta(ge=1, le=MAX_PRICE)]
    stock: Annotated[int, Meta(ge=0, le=MAX_STOCK)] = 0
    """The initial stock."""


class _Shop(Struct, forbid_unknown_fields=True):
    items: Annotated[list[CatalogueItem], Meta(max_length=MAX_ITEMS)] = []


class _File(Struct):  # the rules' keys beside it are read by engine/points_rules.py
    shop: _Shop = field(default_factory=_Shop)


def catalogue_from_text(text: str, *, file: str) -> tuple[CatalogueItem, ...]:
    items = convert(parse_toml(text, file=file), _File, file=file, text=text).shop.items
    seen: set[str] = set()
    for n, item in enumerate(items):
        if item.id in seen:
            raise error_at(file, text, ("shop", "items", n, "id"), f"item {item.id!r} is listed twice")
        seen.add(item.id)
    return tuple(items)


def load_catalogue(path: str | Path | None = None) -> tuple[CatalogueItem, ...]:
    """The catalogue in the file at ``path``, or the shipped one."""
    if path is None:
        text = resources.files("engine").joinpath(DEFAULT_POINTS_FILE).read_text(encoding="utf-8")
        return catalogue_from_text(text, file=f"engine/{DEFAULT_POINTS_FILE}")
    return catalogue_from_text(read_text(path), file=str(path))


def seed(book: PointsBook, catalogue: tuple[CatalogueItem, ...], *, t_s: float) -> list[ItemRow]:
    """Put the catalogue's items the book does not hold yet into it, with their initial stock: the rows to journal."""
    rows: list[ItemRow] = []
    for item in catalogue:
        if book.item(item.id) is not None:
            continue
        rows.append(book.put_item(item.id, name=item.name, category=item.category, price=item.price, t_s=t_s,
                                  actor="catalogue"))
        if item.stock:
            rows.append(book.restock(item.id, item.stock, t_s=t_s, actor="catalogue"))
    return rows
