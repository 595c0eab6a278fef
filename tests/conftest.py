"""Shared fixtures. Unit-test folders forbid ``ray.init`` (see ``tests/unit_guard.py``)."""
