"""Cloud Map's errors, each carrying its AWS error code (every one is a 400).

    AwsError (aws/errors.py)
    ├── InvalidInput                           a value is malformed or not allowed here
    ├── NamespaceNotFound
    ├── ServiceNotFound
    ├── InstanceNotFound
    ├── OperationNotFound
    ├── ResourceNotFoundException              TagResource & co.: no such ARN
    ├── NamespaceAlreadyExists                 carries namespace_id, creator_request_id
    ├── ServiceAlreadyExists                   carries service_id, service_arn, creator_request_id
    ├── DuplicateRequest                       carries duplicate_operation_id
    ├── ResourceInUse                          the resource still contains others
    ├── ResourceLimitExceeded                  a quota (namespaces, instances) was reached
    ├── RequestLimitExceeded                   throttled
    ├── CustomHealthNotFound                   the service has no HealthCheckCustomConfig
    ├── TooManyTagsException                   more than 50 tags; carries resource_name
    └── ServiceAttributesLimitExceededException more than 30 service attributes

The extra members some errors carry are snake_case attributes named after the
members of the error's shape in the service model.
"""

from __future__ import annotations

from portside.aws.errors import AwsError


class InvalidInput(AwsError):
    """One or more values are not valid."""

    code = "InvalidInput"


class NamespaceNotFound(AwsError):
    """No namespace exists with the specified ID."""

    code = "NamespaceNotFound"


class ServiceNotFound(AwsError):
    """No service exists with the specified ID."""

    code = "ServiceNotFound"


class InstanceNotFound(AwsError):
    """No instance exists with the specified ID, or it was already deregistered."""

    code = "InstanceNotFound"


class OperationNotFound(AwsError):
    """No operation exists with the specified ID."""

    code = "OperationNotFound"


class ResourceNotFoundException(AwsError):
    """The resource named by an ARN was not found."""

    code = "ResourceNotFoundException"


class NamespaceAlreadyExists(AwsError):
    """A namespace with this name already exists."""

    code = "NamespaceAlreadyExists"

    def __init__(self, message: str, *, namespace_id: str, creator_request_id: str | None):
        super().__init__(message)
        self.namespace_id = namespace_id
        self.creator_request_id = creator_request_id


class ServiceAlreadyExists(AwsError):
    """A service with this name already exists in the namespace."""

    code = "ServiceAlreadyExists"

    def __init__(
        self, message: str, *, service_id: str, service_arn: str, creator_request_id: str | None
    ):
        super().__init__(message)
        self.service_id = service_id
        self.service_arn = service_arn
        self.creator_request_id = creator_request_id


class DuplicateRequest(AwsError):
    """The request token was already used for a different request."""

    code = "DuplicateRequest"

    def __init__(self, message: str, *, duplicate_operation_id: str):
        super().__init__(message)
        self.duplicate_operation_id = duplicate_operation_id


class ResourceInUse(AwsError):
    """The resource still contains other resources."""

    code = "ResourceInUse"


class ResourceLimitExceeded(AwsError):
    """A quota on the number of resources was reached."""

    code = "ResourceLimitExceeded"


class RequestLimitExceeded(AwsError):
    """The request rate quota was reached."""

    code = "RequestLimitExceeded"


class CustomHealthNotFound(AwsError):
    """The instance's service has no custom health check."""

    code = "CustomHealthNotFound"


class TooManyTagsException(AwsError):
    """A resource can have at most 50 tags."""

    code = "TooManyTagsException"

    def __init__(self, message: str, *, resource_name: str):
        super().__init__(message)
        self.resource_name = resource_name


class ServiceAttributesLimitExceededException(AwsError):
    """A service can have at most 30 attributes."""

    code = "ServiceAttributesLimitExceededException"
