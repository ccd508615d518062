"""ECS handlers, one module per resource family."""

from portside.api.ecs import clusters as clusters  # noqa: F401
