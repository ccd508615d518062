"""Launchers: what an instance of an Auto Scaling group is, on the live control plane.

Managed scaling decides how many instances a group should have (controllers/
capacity.py); the group's launcher makes them exist. ``local`` starts a
``portside agent`` on this machine per instance; ``command`` runs the group's
own launch and terminate commands (real hardware, VMs); ``simulated`` is the
simulator's (sim/fleet.py) and is never run live. The protocol is in
:mod:`portside.runtime.launchers.base`; runtime/capacity_groups.py drives it.
"""

from __future__ import annotations

from portside.runtime.launchers.base import Exited, Launcher, LaunchError, LaunchRequest

__all__ = ["Exited", "LaunchError", "LaunchRequest", "Launcher"]
