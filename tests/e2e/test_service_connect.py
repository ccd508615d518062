"""Service Connect for real: a client calls ``api:8080`` by its alias with no code change.

One agent runs an ``api`` service of three tasks (client-server port ``api``,
alias ``api:8080``) and a client-only service whose task calls ``api:8080`` in
a loop through its own proxy: with the process driver through a private hosts
file, with Docker (awsvpc) through the proxy in the task's network namespace
and the pause container's extra hosts, the client being busybox ``nc``.
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, unique, until

pytestmark = pytest.mark.slow
linux_root = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0,
    reason="aliases resolve through a private hosts file or a network namespace: Linux and root",
)

# Answers GET / with its own task's metadata URI (one per task).
API = (
    "import http.server, os\n"
    "answer = os.environ['ECS_CONTAINER_METADATA_URI_V4'].encode()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def do_GET(self):\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(answer))); self.end_headers()\n"
    "        self.wfile.write(answer)\n"
    "    def log_message(self, *a): pass\n"
    "address = (os.environ['PORTSIDE_ADDRESS'], int(os.environ['PORTSIDE_PORT_8080']))\n"
    "http.server.ThreadingHTTPServer(address, H).serve_forever()\n"
)

# GETs http://api:8080/ forever; one line per request: "ok <answer>" or "error <reason>".
CLIENT = (
    "import sys, time, urllib.request\n"
    "out = open(sys.argv[1], 'a', buffering=1)\n"
    "while True:\n"
    "    try:\n"
    "        with urllib.request.urlopen('http://api:8080/', timeout=5) as r:\n"
    "            out.write('ok ' + r.read().decode() + '\\n')\n"
    "    except Exception as e:\n"
    "        out.write('error ' + repr(e).replace('\\n', ' ') + '\\n')\n"
    "    time.sleep(0.01)\n"
)


def _lines(path: Path) -> list[str]:
    try:
        return [x for x in path.read_text().splitlines() if x]
    except OSError:
        return []


def _task_definition(ecs: Any, argv: list[str], ports: list[dict[str, Any]]) -> str:
    family = unique("sc")
    ecs.register_task_definition(
        family=family, networkMode="awsvpc", cpu="256", memory="128",
        containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64,
            "entryPoint": [sys.executable, "-c"], "command": argv, "portMappings": ports,
        }],
    )
    return family


@linux_root
def test_client_calls_api_by_alias_spread_and_without_errors_on_stop(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "4096", "--memory", "4096", "--driver", "process"]).start()
    try:
        ecs, sd = srv.client(), srv.client("servicediscovery")
        namespace = unique("sc")
        op = sd.create_http_namespace(Name=namespace)["OperationId"]
        until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
        api = _task_definition(ecs, [API], [
            {"name": "api", "containerPort": 8080, "appProtocol": "http"}])
        ecs.create_service(
            cluster="default", serviceName="api", taskDefinition=api, desiredCount=3,
            networkConfiguration=network,
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
        )
        until(lambda: len(ecs.list_tasks(cluster="default", serviceName="api",
                                          desiredStatus="RUNNING")["taskArns"]) == 3
              and _registered(sd, namespace) == 3, timeout=90)

        answers = tmp_path / "answers.txt"
        client = _task_definition(ecs, [CLIENT, str(answers)], [])
        ecs.create_service(
            cluster="default", serviceName="client", taskDefinition=client, desiredCount=1,
            networkConfiguration=network,
            serviceConnectConfiguration={"enabled": True, "namespace": namespace},
        )
        until(lambda: len(_lines(answers)) >= 150, timeout=90)
        lines = _lines(answers)
        assert [x for x in lines if not x.startswith("ok ")] == []
        spread = collections.Counter(x[3:] for x in lines)
        assert len(spread) == 3, spread  # every api task answered
        assert min(spread.values()) >= len(lines) / 3 * 0.5, spread  # round robin, roughly even

        # Stop one api task in the middle of the stream: no request may fail.
        before = len(_lines(answers))
        arn = ecs.list_tasks(cluster="default", serviceName="api")["taskArns"][0]
        ecs.stop_task(cluster="default", task=arn, reason="test")
        until(lambda: ecs.describe_tasks(cluster="default", tasks=[arn])["tasks"][0][
            "lastStatus"] == "STOPPED", timeout=60)
        until(lambda: len(_lines(answers)) >= before + 200, timeout=60)
        lines = _lines(answers)
        assert [x for x in lines if not x.startswith("ok ")] == []
        assert not list((tmp_path).glob("**/service-connect/" + arn.rsplit("/", 1)[-1]
                                        + "/proxy.pid"))  # its proxy stopped with it
    finally:
        _scale_to_zero(srv.client())
        srv.stop()


def _scale_to_zero(ecs: Any) -> None:
    """Stop every task (and with it its proxy): the agent leaves tasks running when it exits."""
    try:
        for arn in ecs.list_services(cluster="default")["serviceArns"]:
            ecs.update_service(cluster="default", service=arn, desiredCount=0)
        until(lambda: not ecs.list_tasks(cluster="default")["taskArns"], timeout=60)
        stopping = ecs.list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"]
        until(lambda: all(t["lastStatus"] == "STOPPED" for t in ecs.describe_tasks(
            cluster="default", tasks=stopping)["tasks"]), timeout=60)
    except Exception:  # the test's own failure matters more
        pass


def _registered(sd: Any, namespace: str) -> int:
    namespaces = sd.list_namespaces()["Namespaces"]
    ns = next(n for n in namespaces if n["Name"] == namespace)
    services = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["Id"]]}])
    svc = next((s for s in services["Services"] if s["Name"] == "api"), None)
    if svc is None:
        return 0
    return len(sd.list_instances(ServiceId=svc["Id"])["Instances"])


# busybox: httpd answering /cgi-bin/id with the container's hostname (one per task)
BUSYBOX_API = (
    "mkdir -p /www/cgi-bin && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nhostname\\n' > /www/cgi-bin/id && "
    "chmod +x /www/cgi-bin/id && exec httpd -f -p 8080 -h /www"
)
# busybox: one HTTP/1.0 request per connection through nc; "ok HOSTNAME" or "error".
# stdin stays open until the server closes: the proxy does not carry a half-close.
BUSYBOX_CLIENT = (
    "while true; do "
    "r=$( (printf 'GET /cgi-bin/id HTTP/1.0\\r\\n\\r\\n'; sleep 0.2) | nc api 8080 | tail -n 1); "
    "if [ -n \"$r\" ]; then echo \"ok $r\"; else echo error; fi; sleep 0.05; done"
)


@linux_root
@pytest.mark.docker
def test_busybox_client_calls_api_by_alias_in_docker(tmp_path: Path) -> None:
    from tests.agent.e2e import needs_docker
    from tests.support.images import ensure_busybox_image

    needs_docker()
    import docker

    image = ensure_busybox_image()
    api_client = docker.from_env(timeout=30)
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "4096", "--memory", "4096", "--driver", "docker"]).start()
    try:
        ecs, sd = srv.client(), srv.client("servicediscovery")
        namespace = unique("sc")
        op = sd.create_http_namespace(Name=namespace)["OperationId"]
        until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}

        def busybox(script: str, ports: list[dict[str, Any]]) -> str:
            family = unique("sc")
            ecs.register_task_definition(
                family=family, networkMode="awsvpc", cpu="256", memory="128",
                containerDefinitions=[{
                    "name": "app", "image": image, "essential": True, "memory": 64,
                    "command": ["sh", "-c", script], "portMappings": ports,
                }],
            )
            return family

        ecs.create_service(
            cluster="default", serviceName="api", desiredCount=3, networkConfiguration=network,
            # plain TCP (no appProtocol): busybox httpd's CGI answers are close-delimited,
            # which the proxy's HTTP/1.1 path does not accept yet
            taskDefinition=busybox(BUSYBOX_API, [{"name": "api", "containerPort": 8080}]),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
        )
        try:
            until(lambda: _registered(sd, namespace) == 3, timeout=90)
        except AssertionError:
            stopped = ecs.list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"][:5]
            raise AssertionError([(t.get("stoppedReason"), [c.get("reason") for c in t["containers"]])
                                  for t in ecs.describe_tasks(cluster="default", tasks=stopped)["tasks"]]
                                 if stopped else "no stopped tasks") from None
        ecs.create_service(
            cluster="default", serviceName="client", desiredCount=1, networkConfiguration=network,
            taskDefinition=busybox(BUSYBOX_CLIENT, []),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace},
        )
        (client_task,) = until(lambda: ecs.list_tasks(
            cluster="default", serviceName="client")["taskArns"], timeout=30)

        def output() -> list[str]:
            found = api_client.containers.list(
                all=True, filters={"label": f"com.amazonaws.ecs.task-arn={client_task}"})
            logs = [c.logs().decode() for c in found if "pause" not in c.name]
            return [x for text in logs for x in text.splitlines() if x]

        until(lambda: len(output()) >= 60, timeout=90)
        lines = output()
        assert [x for x in lines if not x.startswith("ok ")] == []
        spread = collections.Counter(lines)
        assert len(spread) == 3, spread
    finally:
        _scale_to_zero(srv.client())
        srv.stop()
        api_client.close()

