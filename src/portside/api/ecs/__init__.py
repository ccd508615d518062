"""ECS handlers, one module per resource family."""

from portside.api.ecs import account_settings as account_settings
from portside.api.ecs import agent as agent
from portside.api.ecs import attributes as attributes
from portside.api.ecs import capacity_providers as capacity_providers
from portside.api.ecs import clusters as clusters
from portside.api.ecs import container_instances as container_instances
from portside.api.ecs import service_deployments as service_deployments
from portside.api.ecs import services as services
from portside.api.ecs import tags as tags
from portside.api.ecs import task_definitions as task_definitions
from portside.api.ecs import task_protection as task_protection
from portside.api.ecs import tasks as tasks
