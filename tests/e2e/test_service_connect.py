"""Service Connect for real: a client calls ``api:8080`` by its alias with no code change.

One agent runs an ``api`` service of three tasks (client-server port ``api``,
alias ``api:8080``) and a client-only service whose task calls ``api:8080`` in
a loop through its own proxy: with the process driver through a private hosts
file, with Docker (awsvpc) through the proxy in the task's network namespace
and the pause container's extra hosts, with Docker bridge through listeners the
task's proxy binds in the container's own namespace and the container's extra
hosts — the client being busybox ``nc`` with no environment variable's help.
"""

from __future__ import annotations

import collections
import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service_connect_rig import (
    API,
    NETWORK,
    container_lines,
    lines,
    linux_root,
    mesh,
    registered,
)
from tests.helpers import unique, until

pytestmark = pytest.mark.slow


@linux_root
def test_client_calls_api_by_alias_spread_and_without_errors_on_stop(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.api([API])
        m.client(answers)
        until(lambda: len(_after_all_three(lines(answers))) >= 150, timeout=90)
        found = lines(answers)
        assert [x for x in found if not x.startswith("ok ")] == []
        spread = collections.Counter(_after_all_three(found))
        assert len(spread) == 3, spread  # every api task answered
        # round robin per client proxy: exact once all three are known (2: slack for one
        # reordering of the endpoint list by a later manifest)
        assert max(spread.values()) - min(spread.values()) <= 2, spread

        # Stop one api task in the middle of the stream: no request may fail.
        before = len(lines(answers))
        arn = m.ecs.list_tasks(cluster="default", serviceName="api")["taskArns"][0]
        m.ecs.stop_task(cluster="default", task=arn, reason="test")
        until(lambda: m.ecs.describe_tasks(cluster="default", tasks=[arn])["tasks"][0][
            "lastStatus"] == "STOPPED", timeout=60)
        until(lambda: len(lines(answers)) >= before + 200, timeout=60)
        assert [x for x in lines(answers) if not x.startswith("ok ")] == []
        assert not list(tmp_path.glob("**/service-connect/" + arn.rsplit("/", 1)[-1]
                                      + "/proxy.pid"))  # its proxy stopped with it


def _after_all_three(found: list[str]) -> list[str]:
    """The answers after each of the three api tasks has answered once: steady state."""
    seen: set[str] = set()
    for i, line in enumerate(found):
        seen.add(line)
        if len(seen) == 3:
            return found[i + 1:]
    return []


# busybox: httpd answering /cgi-bin/id with the container's hostname (one per task)
BUSYBOX_API = (
    "mkdir -p /www/cgi-bin && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nhostname\\n' > /www/cgi-bin/id && "
    "chmod +x /www/cgi-bin/id && exec httpd -f -p 8080 -h /www"
)
# busybox: one HTTP/1.0 request per connection through nc; "ok HOSTNAME" or "error".
# nc half-closes as soon as its stdin ends, before the answer: the proxy must still answer.
BUSYBOX_CLIENT = (
    "while true; do "
    "r=$(printf 'GET /cgi-bin/id HTTP/1.0\\r\\n\\r\\n' | nc api 8080 | tail -n 1); "
    "if [ -n \"$r\" ]; then echo \"ok $r\"; else echo error; fi; sleep 0.05; done"
)


@linux_root
@pytest.mark.docker
@pytest.mark.parametrize(("protocol", "client_mode"),
                         [("tcp", "awsvpc"), ("http", "awsvpc"), ("http", "bridge")])
def test_busybox_client_calls_api_by_alias_in_docker(
    tmp_path: Path, protocol: str, client_mode: str
) -> None:
    from tests.agent.e2e import needs_docker
    from tests.support.images import ensure_busybox_image

    needs_docker()
    import docker

    image = ensure_busybox_image()
    with contextlib.closing(docker.from_env(timeout=30)) as api_client, mesh(tmp_path, "docker") as m:
        ecs, sd, namespace = m.ecs, m.sd, m.namespace
        network = NETWORK

        def busybox(script: str, ports: list[dict[str, Any]], mode: str = "awsvpc") -> str:
            family = unique("sc")
            ecs.register_task_definition(
                family=family, networkMode=mode, cpu="256", memory="128",
                containerDefinitions=[{
                    "name": "app", "image": image, "essential": True, "memory": 64,
                    "command": ["sh", "-c", script], "portMappings": ports,
                }],
            )
            return family

        ecs.create_service(
            cluster="default", serviceName="api", desiredCount=3, networkConfiguration=network,
            # tcp: no appProtocol, the splice; http: the proxy's HTTP/1.1 path (busybox
            # httpd's CGI answers are close-delimited, with bare-LF headers)
            taskDefinition=busybox(BUSYBOX_API, [{"name": "api", "containerPort": 8080,
                                                  **({"appProtocol": "http"} if protocol == "http"
                                                     else {})}]),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
        )
        try:
            until(lambda: registered(sd, namespace) == 3, timeout=90)
        except AssertionError:
            stopped = ecs.list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"][:5]
            raise AssertionError([(t.get("stoppedReason"), [c.get("reason") for c in t["containers"]])
                                  for t in ecs.describe_tasks(cluster="default", tasks=stopped)["tasks"]]
                                 if stopped else "no stopped tasks") from None
        ecs.create_service(
            cluster="default", serviceName="client", desiredCount=1,
            **({"networkConfiguration": network} if client_mode == "awsvpc" else {}),
            taskDefinition=busybox(BUSYBOX_CLIENT, [], client_mode),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace},
        )
        (client_task,) = until(lambda: ecs.list_tasks(
            cluster="default", serviceName="client")["taskArns"], timeout=60)

        def output() -> list[str]:
            return container_lines(api_client, client_task)

        until(lambda: sum(x.startswith("ok ") for x in output()) >= 60, timeout=90)
        lines = output()
        if client_mode == "bridge":
            # the container's namespace exists only once it runs: the proxy's listeners
            # join it a moment later, and from the first answer on nothing fails
            first = next(i for i, x in enumerate(lines) if x.startswith("ok "))
            lines = lines[first:]
        assert [x for x in lines if not x.startswith("ok ")] == []
        spread = collections.Counter(lines)
        assert len(spread) == 3, spread

