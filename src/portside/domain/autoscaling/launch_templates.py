"""EC2 CreateLaunchTemplate, DescribeLaunchTemplates and DeleteLaunchTemplate.

Only what an Auto Scaling group needs of a template is served: its name, id,
LaunchTemplateData (InstanceType, InstanceMarketOptions) and tags. Every
template has exactly one version, 1, which is both the default and the latest;
CreateLaunchTemplateVersion and friends are not served. A ClientToken makes
CreateLaunchTemplate idempotent, as EC2 documents.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.domain.autoscaling.errors import (
    DryRunOperation,
    Ec2Error,
    LaunchTemplateIdMalformed,
    LaunchTemplateIdNotFound,
    LaunchTemplateNameInUse,
    LaunchTemplateNameMalformed,
    LaunchTemplateNameNotFound,
    MissingParameter,
)
from portside.domain.autoscaling.launch_template import Ec2Tag, LaunchTemplate
from portside.domain.errors import InvalidParameterException
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Delete, Store

_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")


def _prefix(scope: Scope) -> str:
    return scope.arn("ec2", "launch-template/")


def templates_of(store: Store, scope: Scope) -> dict[str, LaunchTemplate]:
    """This account and region's templates, by id, in creation order."""
    prefix = _prefix(scope)
    return {
        t.launch_template_id: t
        for k, t in store.all(LaunchTemplate.KIND).items()
        if k.startswith(prefix)
    }


def _dry_run(dry_run: bool | None) -> None:
    if dry_run:
        raise DryRunOperation("Request would have succeeded, but DryRun flag is set.")


def _tags(specs: Sequence[Mapping[str, Any]] | None) -> tuple[Ec2Tag, ...]:
    tags: list[Ec2Tag] = []
    for spec in specs or ():
        kind = spec.get("resource_type")
        if kind not in (None, "launch-template"):
            raise Ec2Error(
                f"'{kind}' is not a valid taggable resource type for this operation."
            )
        tags += [Ec2Tag(t.get("key", ""), t.get("value", "")) for t in spec.get("tags") or ()]
    return tuple(tags)


def create_launch_template(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    launch_template_name: str,
    launch_template_data: Mapping[str, Any],
    version_description: str | None = None,
    tag_specifications: Sequence[Mapping[str, Any]] | None = None,
    client_token: str | None = None,
    dry_run: bool | None = None,
    operator: Any = None,
) -> LaunchTemplate:
    if not _NAME.match(launch_template_name):
        raise LaunchTemplateNameMalformed(
            "A launch template name must be between 3 and 128 characters, and may contain "
            "letters, numbers, and the following characters: - ( ) . / _."
        )
    known = templates_of(store, scope)
    if client_token:
        for t in known.values():
            if t.client_token == client_token:
                return t
    _dry_run(dry_run)
    if any(t.launch_template_name == launch_template_name for t in known.values()):
        raise LaunchTemplateNameInUse(
            f"Launch template name already in use: {launch_template_name}."
        )
    template_id = "lt-" + uuid.uuid4().hex[:17]
    template = LaunchTemplate(
        arn=_prefix(scope) + template_id,
        launch_template_id=template_id,
        launch_template_name=launch_template_name,
        create_time=now,
        created_by=f"arn:aws:iam::{scope.account}:root",
        launch_template_data=dict(launch_template_data),
        version_description=version_description,
        tags=_tags(tag_specifications),
        client_token=client_token,
    )
    store.commit([template])
    return template


def find_template(
    store: Store, scope: Scope, *, template_id: str | None = None, name: str | None = None
) -> LaunchTemplate:
    """A template by id or by name; EC2's not-found errors otherwise."""
    known = templates_of(store, scope)
    if template_id is not None:
        if not template_id.startswith("lt-"):
            raise LaunchTemplateIdMalformed(
                f"The specified ID for the launch template ({template_id}) is malformed."
            )
        found = known.get(template_id)
        if found is None:
            raise LaunchTemplateIdNotFound(
                f"The specified launch template, with template ID {template_id}, does not exist."
            )
        return found
    if name is not None:
        for t in known.values():
            if t.launch_template_name == name:
                return t
        raise LaunchTemplateNameNotFound(
            f"The specified launch template, with template name {name}, does not exist."
        )
    raise MissingParameter(
        "The request must contain the parameter LaunchTemplateName or LaunchTemplateId."
    )


def _matches(t: LaunchTemplate, filters: Sequence[Mapping[str, Any]]) -> bool:
    for f in filters:
        name, values = f.get("name", ""), set(f.get("values") or ())
        if name == "launch-template-name":
            have = {t.launch_template_name}
        elif name == "tag-key":
            have = {tag.key for tag in t.tags}
        elif name.startswith("tag:"):
            have = {tag.value for tag in t.tags if tag.key == name[4:]}
        else:
            raise Ec2Error(
                f"The filter '{name}' is invalid: portside filters launch templates by "
                "launch-template-name, tag-key and tag:<key>."
            )
        if not have & values:
            return False
    return True


def describe_launch_templates(
    store: Store,
    scope: Scope,
    *,
    launch_template_ids: Sequence[str] | None = None,
    launch_template_names: Sequence[str] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    dry_run: bool | None = None,
    include_managed_resources: bool | None = None,
) -> tuple[list[LaunchTemplate], str | None]:
    _dry_run(dry_run)
    if launch_template_ids or launch_template_names:
        found = [find_template(store, scope, template_id=i) for i in launch_template_ids or ()]
        found += [find_template(store, scope, name=n) for n in launch_template_names or ()]
        return [t for t in found if _matches(t, filters or ())], None
    known = templates_of(store, scope)
    keys = [i for i, t in known.items() if _matches(t, filters or ())]
    if max_results is not None and max_results < 5:
        raise Ec2Error("Value for parameter MaxResults must be between 5 and 200.")
    try:
        page = paginate(keys, next_token, max_results, default=200, limit=200)
    except InvalidParameterException as exc:
        raise Ec2Error(exc.message) from None
    return [known[i] for i in page.items], page.next_token


def delete_launch_template(
    store: Store,
    scope: Scope,
    *,
    launch_template_id: str | None = None,
    launch_template_name: str | None = None,
    dry_run: bool | None = None,
) -> LaunchTemplate:
    """Delete a template (a group that names it keeps the instance types it resolved)."""
    template = find_template(store, scope, template_id=launch_template_id, name=launch_template_name)
    _dry_run(dry_run)
    store.commit([Delete(LaunchTemplate.KIND, template.key)])
    return template
