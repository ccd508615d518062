"""Cloud Map (servicediscovery) handlers, one module per resource family."""

from portside.api.servicediscovery import instances as instances
from portside.api.servicediscovery import namespaces as namespaces
from portside.api.servicediscovery import operations as operations
from portside.api.servicediscovery import services as services
