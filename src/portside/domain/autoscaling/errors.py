"""The errors Auto Scaling and EC2 answer with, each carrying its AWS code.

    AwsError (aws/errors.py)
    ├── Auto Scaling (query protocol; codes from the botocore model's error shapes)
    │   ├── AsgValidationError          ValidationError: a parameter or the group's state
    │   ├── AlreadyExists               a group of that name exists
    │   ├── ResourceInUse               the group still has instances
    │   ├── ScalingActivityInProgress   the group is still scaling
    │   └── InvalidNextToken
    └── EC2 (ec2 protocol; codes from EC2's error-code list)
        ├── Ec2Error                    base: InvalidParameterValue
        ├── MissingParameter
        ├── LaunchTemplateNameInUse     InvalidLaunchTemplateName.AlreadyExistsException
        ├── LaunchTemplateNameMalformed InvalidLaunchTemplateName.MalformedException
        ├── LaunchTemplateNameNotFound  InvalidLaunchTemplateName.NotFoundException
        ├── LaunchTemplateIdNotFound    InvalidLaunchTemplateId.NotFound
        ├── LaunchTemplateIdMalformed   InvalidLaunchTemplateId.Malformed
        └── DryRunOperation             the request would have succeeded (412)
"""

from __future__ import annotations

from portside.aws.errors import AwsError


class AsgValidationError(AwsError):
    """Auto Scaling's ValidationError: a bad parameter, or a name that matches nothing."""

    code = "ValidationError"


class AlreadyExists(AwsError):
    """An Auto Scaling group with that name already exists."""

    code = "AlreadyExists"


class ResourceInUse(AwsError):
    """The group still has instances (delete it with ForceDelete)."""

    code = "ResourceInUse"


class ScalingActivityInProgress(AwsError):
    """The group is scaling; try again when it is done."""

    code = "ScalingActivityInProgress"


class InvalidNextToken(AwsError):
    """The NextToken is not one this listing returned."""

    code = "InvalidNextToken"


class Ec2Error(AwsError):
    """A parameter EC2 does not accept."""

    code = "InvalidParameterValue"


class MissingParameter(Ec2Error):
    """A parameter the request needs is missing."""

    code = "MissingParameter"


class LaunchTemplateNameInUse(Ec2Error):
    """A launch template with that name exists."""

    code = "InvalidLaunchTemplateName.AlreadyExistsException"


class LaunchTemplateNameMalformed(Ec2Error):
    """The name breaks EC2's rule (3 to 128 letters, digits and ``-()./_``)."""

    code = "InvalidLaunchTemplateName.MalformedException"


class LaunchTemplateNameNotFound(Ec2Error):
    """No launch template has that name."""

    code = "InvalidLaunchTemplateName.NotFoundException"


class LaunchTemplateIdNotFound(Ec2Error):
    """No launch template has that id."""

    code = "InvalidLaunchTemplateId.NotFound"


class LaunchTemplateIdMalformed(Ec2Error):
    """The id is not of the form lt-0123456789abcdef0."""

    code = "InvalidLaunchTemplateId.Malformed"


class DryRunOperation(Ec2Error):
    """DryRun was set and the request would have succeeded."""

    code = "DryRunOperation"
    status = 412
