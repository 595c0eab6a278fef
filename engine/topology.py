"""The city: precincts (one police station each) → sites (guard room) → devices; the command center;
residents per door unit; volunteers in teams. Loaded from TOML; errors name the file, line and field.

Every entity is addressed by an id from one namespace: devices, guard rooms, stations, maintenance
queues and the command center. Ids go into MQTT topics, so they are checked like topic ids.

The names other modules import, from the modules that hold them, one job each:

- :mod:`engine.city_model` — the loaded city (frozen records) and its lookups (``City.target_for``,
  ``City.responder_ids``, :func:`subset_for`);
- :mod:`engine.city_schema` — the file's strict shape;
- :mod:`engine.city_file` — validating a file into the model (:func:`load_city`, :func:`city_from_dict`) and
  back (:func:`city_to_dict`).
"""

from __future__ import annotations

from engine.city_file import city_from_dict, city_to_dict, load_city
from engine.city_model import (
    City,
    CommandCenter,
    Device,
    Precinct,
    Resident,
    Site,
    Team,
    Volunteer,
    subset_for,
)

__all__ = [
    "City", "CommandCenter", "Device", "Precinct", "Resident", "Site", "Team", "Volunteer",
    "city_from_dict", "city_to_dict", "load_city", "subset_for",
]
