"""The kiosk services' catalogue from TOML (``engine/kiosk/default_services.toml``, its format described there):
categories, services and the hall's policy (exam pass mark, booking slots, consumables' thresholds). Strict like
every configuration file: errors name the file, line and field (``engine/tomlconf.py``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Final

from msgspec import Meta, Struct, field

from engine.tomlconf import convert, error_at, parse_toml, read_text

DEFAULT_SERVICES_FILE: Final = "kiosk/default_services.toml"
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Percent = Annotated[int, Meta(ge=0, le=100)]


class Category(Struct, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name


class Service(Struct, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    category: Id
    face_check: bool
    typical_s: Annotated[int, Meta(ge=1, le=86_400)]
    bookable: bool
    exam: bool = False
    """A scored exam (the driving-theory exam): its sessions report ``score``, passed at the policy's pass mark."""
    slot_capacity: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    """Bookings per hall and slot for this service; None: the policy's."""


class KioskPolicy(Struct, frozen=True, forbid_unknown_fields=True):
    pass_mark: Percent = 90
    slot_s: Annotated[int, Meta(ge=60, le=86_400)] = 1800
    slot_capacity: Annotated[int, Meta(ge=1, le=10_000)] = 6
    book_ahead_days: Annotated[int, Meta(ge=1, le=366)] = 14
    early_s: Annotated[int, Meta(ge=0, le=86_400)] = 900
    max_bookings: Annotated[int, Meta(ge=1, le=1_000_000)] = 50_000
    max_per_phone: Annotated[int, Meta(ge=1, le=100)] = 4
    """Bookings one phone may hold at once (slots not yet ended)."""
    low: dict[Id, Percent] = field(default_factory=lambda: {"paper": 15, "card": 10})
    """Consumable → percent at or below which the kiosk needs a refill."""


class _File(Struct, forbid_unknown_fields=True):
    policy: KioskPolicy = field(default_factory=KioskPolicy)
    categories: list[Category] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)


class Catalogue(Struct, frozen=True):
    policy: KioskPolicy
    categories: dict[str, Category]
    services: dict[str, Service]
    """In the file's order."""

    def capacity(self, service: Service) -> int:
        return service.slot_capacity or self.policy.slot_capacity

    def by_category(self) -> dict[str, list[Service]]:
        out: dict[str, list[Service]] = {c: [] for c in self.categories}
        for service in self.services.values():
            out[service.category].append(service)
        return out


def catalogue_from_text(text: str, *, file: str) -> Catalogue:
    data = convert(parse_toml(text, file=file), _File, file=file, text=text)
    if not data.services:
        raise error_at(file, text, ("services",), "no services")
    categories: dict[str, Category] = {}
    for n, category in enumerate(data.categories):
        if category.id in categories:
            raise error_at(file, text, ("categories", n, "id"), f"category {category.id!r} is listed twice")
        categories[category.id] = category
    services: dict[str, Service] = {}
    for n, service in enumerate(data.services):
        if service.id in services:
            raise error_at(file, text, ("services", n, "id"), f"service {service.id!r} is listed twice")
        if service.category not in categories:
            raise error_at(file, text, ("services", n, "category"),
                           f"unknown category {service.category!r} (categories: {', '.join(categories)})")
        services[service.id] = service
    return Catalogue(data.policy, categories, services)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue in the file at ``path``, or the shipped one."""
    if path is None:
        text = resources.files("engine").joinpath(DEFAULT_SERVICES_FILE).read_text(encoding="utf-8")
        return catalogue_from_text(text, file=f"engine/{DEFAULT_SERVICES_FILE}")
    return catalogue_from_text(read_text(path), file=str(path))


_DEFAULT: list[Catalogue] = []


def default_catalogue() -> Catalogue:
    """The shipped catalogue, read once."""
    if not _DEFAULT:
        _DEFAULT.append(load_catalogue())
    return _DEFAULT[0]
