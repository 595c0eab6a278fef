from tests.unit_guard import forbid_ray_init  # noqa: F401
