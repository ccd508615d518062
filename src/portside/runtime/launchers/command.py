"""The ``command`` launcher: the group's own commands start and stop its instances.

For real hardware or VMs: ``launch_command`` runs (``/bin/sh -c``) once per
new instance and ``terminate_command`` once per instance let go, each with

    PORTSIDE_INSTANCE_ID         the group instance's id (i-…)
    PORTSIDE_INSTANCE_TYPE       its instance type
    PORTSIDE_AVAILABILITY_ZONE   its zone
    PORTSIDE_CPU, PORTSIDE_MEMORY  what the instance type offers (CPU units, MiB)
    PORTSIDE_ENDPOINT            the control plane's URL
    PORTSIDE_CLUSTER             the cluster to join
    PORTSIDE_REGION              its region

in the environment. The launch command must start an agent that registers
with ``--attribute portside.instance-id=$PORTSIDE_INSTANCE_ID`` (or with that
EC2 instance id) and return; the instance is InService once it registers. A
command that exits non-zero or outlasts ``PORTSIDE_LAUNCH_COMMAND_TIMEOUT``
(seconds, default 300) is a failed launch or termination, recorded as a
scaling activity with its exit code and the last line of its stderr; the group
tries again on a later pass. Without a terminate command, an instance is let
go by deregistering its container instance only.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from portside.runtime.launchers.base import Exited, LaunchError, LaunchRequest

DEFAULT_TIMEOUT = 300.0


def command_env(req: LaunchRequest) -> dict[str, str]:
    i = req.instance
    return {
        "PORTSIDE_INSTANCE_ID": i.instance_id,
        "PORTSIDE_INSTANCE_TYPE": i.instance_type,
        "PORTSIDE_AVAILABILITY_ZONE": i.availability_zone,
        "PORTSIDE_CPU": str(req.spec.cpu),
        "PORTSIDE_MEMORY": str(req.spec.memory),
        "PORTSIDE_ENDPOINT": req.endpoint,
        "PORTSIDE_CLUSTER": req.cluster,
        "PORTSIDE_REGION": req.region,
    }


class CommandLauncher:
    def __init__(self, timeout: float | None = None):
        env = os.environ.get("PORTSIDE_LAUNCH_COMMAND_TIMEOUT")
        self.timeout = timeout or (float(env) if env else DEFAULT_TIMEOUT)

    def launch(self, req: LaunchRequest) -> None:
        if not req.group.launch_command:
            raise LaunchError(
                f"Launching a new instance failed: the group {req.group.auto_scaling_group_name} "
                "has no launch command."
            )
        self._run("launch", req.group.launch_command, req)

    def terminate(self, req: LaunchRequest) -> None:
        if req.group.terminate_command:
            self._run("terminate", req.group.terminate_command, req)

    def tracks(self, instance_id: str) -> bool:
        return True  # the instance lives on its own machine; nothing to resume here

    def exited(self, instance_id: str) -> Exited | None:
        return None

    def close(self) -> None:
        pass

    def _run(self, what: str, command: str, req: LaunchRequest) -> None:
        iid = req.instance.instance_id
        # stderr goes to a file, not a pipe: a command that leaves a process running in
        # the background (an agent) would otherwise hold the pipe open and never "finish".
        with tempfile.TemporaryFile() as err:
            try:
                done = subprocess.run(
                    ["/bin/sh", "-c", command], env={**os.environ, **command_env(req)},
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    timeout=self.timeout, start_new_session=True,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise LaunchError(
                    f"The {what} command for {iid} did not finish within {self.timeout:.0f} s."
                ) from None
            except OSError as exc:
                raise LaunchError(f"The {what} command for {iid} could not run: {exc}") from None
            err.seek(0)
            stderr = err.read()
        if done.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            last = f": {lines[-1][-300:]}" if lines else ""
            raise LaunchError(
                f"The {what} command for {iid} exited with code {done.returncode}{last}"
            )
