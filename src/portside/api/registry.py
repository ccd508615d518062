"""Which operations portside serves, per AWS service, and the handler for each.

A service API names its botocore model, its awsJson target prefix and the
error code that model-validation failures carry for it. Handlers register with
``@api.operation("CreateCluster")``; the name is checked against the model at
import time, so a typo fails loudly instead of becoming an unknown operation.

A handler takes the request context and the validated snake_case parameters,
and returns the snake_case result (a mapping or a dataclass); it may be async.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel

Handler = Callable[..., Any]

_session = botocore.session.get_session()


@dataclass
class ServiceApi:
    model_name: str
    validation_code: str
    handlers: dict[str, Handler] = field(default_factory=dict)

    @cached_property
    def model(self) -> ServiceModel:
        return _session.get_service_model(self.model_name)

    @property
    def signing_name(self) -> str:
        return str(self.model.signing_name)

    @property
    def target_prefix(self) -> str:
        return str(self.model.metadata.get("targetPrefix", ""))

    @property
    def protocol(self) -> str:
        """The model's wire protocol: ``json``, ``smithy-rpc-v2-cbor``, ``query`` or ``ec2``."""
        return str(self.model.metadata.get("protocol", ""))

    @property
    def smithy_name(self) -> str:
        """The service's name in smithy-rpc-v2-cbor paths."""
        return self.target_prefix

    @property
    def error_namespace(self) -> str:
        return f"com.amazonaws.{self.model.endpoint_prefix}"

    def operation_model(self, name: str) -> OperationModel:
        return self.model.operation_model(name)

    def operation(self, name: str) -> Callable[[Handler], Handler]:
        if name not in self.model.operation_names:
            raise ValueError(f"{self.model_name} has no operation {name}")

        def register(fn: Handler) -> Handler:
            self.handlers[name] = fn
            return fn

        return register


ECS = ServiceApi("ecs", validation_code="InvalidParameterException")
SERVICE_DISCOVERY = ServiceApi("servicediscovery", validation_code="InvalidInput")

AUTOSCALING = ServiceApi("autoscaling", validation_code="ValidationError")
EC2 = ServiceApi("ec2", validation_code="InvalidParameterValue")

SERVICES: tuple[ServiceApi, ...] = (ECS, SERVICE_DISCOVERY, AUTOSCALING, EC2)
