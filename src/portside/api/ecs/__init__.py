"""ECS handlers, one module per resource family."""

from portside.api.ecs import clusters as clusters  # noqa: F401
from portside.api.ecs import agent as agent  # noqa: F401
from portside.api.ecs import services as services  # noqa: F401
from portside.api.ecs import tasks as tasks  # noqa: F401
from portside.api.ecs import capacity_providers as capacity_providers  # noqa: F401
from portside.api.ecs import tags as tags  # noqa: F401
from portside.api.ecs import task_definitions as task_definitions  # noqa: F401
from portside.api.ecs import account_settings as account_settings  # noqa: F401
from portside.api.ecs import attributes as attributes, container_instances as container_instances  # noqa: F401
