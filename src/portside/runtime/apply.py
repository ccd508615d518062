"""Applying a controller's Decision: one commit, guarded by the snapshot's revision.

A decision was made on the store as it was at ``expected_revision``; if
anything was committed since, ``Store.commit`` raises ConflictError and the
caller decides again on the new state instead of writing a stale decision.
Everything in a Decision is written together or not at all, so a crash leaves
either the whole decision or none of it, and the next pass carries on from
whichever it finds.
"""

from __future__ import annotations

from portside.controllers.services import Decision
from portside.store.store import Store


def apply(store: Store, decision: Decision, expected_revision: int) -> int:
    """Commit ``decision``; return the store's revision afterwards."""
    changes = decision.changes()
    if not changes:
        return store.revision
    return store.commit(changes, expected_revision=expected_revision)
