"""The errors a client can cause, each carrying its AWS error code and HTTP status.

    AwsError (aws/errors.py)
    ├── ClientException                    the request is wrong for the current state
    │   ├── ClusterNotFoundException
    │   ├── ServiceNotFoundException
    │   ├── ServiceNotActiveException
    │   ├── ClusterContainsServicesException
    │   ├── ClusterContainsContainerInstancesException
    │   ├── ClusterContainsTasksException
    │   ├── ResourceNotFoundException
    │   ├── ResourceInUseException
    │   ├── UpdateInProgressException
    │   ├── TargetNotFoundException
    │   ├── AttributeLimitExceededException
    │   ├── LimitExceededException
    │   ├── PlatformUnknownException
    │   ├── UnsupportedFeatureException
    │   ├── NamespaceNotFoundException
    │   ├── ServiceDeploymentNotFoundException
    │   └── ConflictException
    └── InvalidParameterException           a parameter is malformed or out of range
"""

from __future__ import annotations

from portside.aws.errors import AwsError


class ClientException(AwsError):
    """The request is not valid for the resource's current state."""

    code = "ClientException"


class InvalidParameterException(AwsError):
    """A parameter is malformed, missing or outside its range."""

    code = "InvalidParameterException"


class ClusterNotFoundException(ClientException):
    """The named cluster does not exist."""

    code = "ClusterNotFoundException"


class ServiceNotFoundException(ClientException):
    """The named service does not exist."""

    code = "ServiceNotFoundException"


class ServiceNotActiveException(ClientException):
    """The service exists but is not ACTIVE."""

    code = "ServiceNotActiveException"


class ClusterContainsServicesException(ClientException):
    """A cluster with active services cannot be deleted."""

    code = "ClusterContainsServicesException"


class ClusterContainsContainerInstancesException(ClientException):
    """A cluster with registered instances cannot be deleted."""

    code = "ClusterContainsContainerInstancesException"


class ClusterContainsTasksException(ClientException):
    """A cluster with running tasks cannot be deleted."""

    code = "ClusterContainsTasksException"


class ResourceNotFoundException(ClientException):
    """The named resource does not exist."""

    code = "ResourceNotFoundException"


class ResourceInUseException(ClientException):
    """The resource is in use and cannot be changed or removed now."""

    code = "ResourceInUseException"


class UpdateInProgressException(ClientException):
    """Another update of the resource is in progress."""

    code = "UpdateInProgressException"


class TargetNotFoundException(ClientException):
    """The target of an attribute does not exist."""

    code = "TargetNotFoundException"


class AttributeLimitExceededException(ClientException):
    """More than 10 custom attributes on a resource."""

    code = "AttributeLimitExceededException"


class LimitExceededException(ClientException):
    """A service quota was reached."""

    code = "LimitExceededException"


class PlatformUnknownException(ClientException):
    """The platform version is not known."""

    code = "PlatformUnknownException"


class UnsupportedFeatureException(ClientException):
    """The feature is not available for this configuration."""

    code = "UnsupportedFeatureException"


class NamespaceNotFoundException(ClientException):
    """The Cloud Map namespace does not exist."""

    code = "NamespaceNotFoundException"


class ServiceDeploymentNotFoundException(ClientException):
    """The service deployment ARN names no recorded deployment."""

    code = "ServiceDeploymentNotFoundException"


class ConflictException(ClientException):
    """The resource's current state does not allow the request (a finished deployment)."""

    code = "ConflictException"
