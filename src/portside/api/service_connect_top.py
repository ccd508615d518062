"""portside's own endpoint for ``portside top``: Service Connect traffic of a cluster.

``POST /_portside/top`` with a JSON body ``{"cluster": NAME_OR_ARN}`` (default
``default``), SigV4-signed like any request (service ``ecs``); answers
``{"cluster", "services": [ROW...], "endpoints": [ROW...]}`` (rows:
domain/ecs/service_connect_top.py) or an AWS error envelope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portside.api.app import App
from portside.api.own import signed_json
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.service_connect_top import row_doc, top_rows
from portside.domain.scope import Scope

PATH = "/_portside/top"


def _top(app: App, scope: Scope, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    from portside.runtime.agent_sessions import sessions_of

    cluster = get_cluster(app.store, scope, params.get("cluster"))
    samples = sessions_of(app).proxy_stats.cluster(app.store, cluster.cluster_arn, now.timestamp())
    services, endpoints = top_rows(samples)
    return {
        "cluster": cluster.cluster_arn,
        "services": [row_doc(r) for r in services],
        "endpoints": [row_doc(r) for r in endpoints],
    }


handle_top = signed_json(_top)
