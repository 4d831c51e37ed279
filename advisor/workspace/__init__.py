"""The compliance workspace: AI-system inventory, versioned profiles, assessments over time, a tracked
checklist per system, records, exports, re-assessment diffs, change alerts and an audit trail.

Between ``compose`` (it stores the engine's ``Assessment``) and ``present`` (the CLI, HTTP API and the
Workspace tab are shells over it)."""

from advisor.workspace.db import WorkspaceError
from advisor.workspace.service import STATUSES, ConflictError, NotFound, Workspace

__all__ = ["Workspace", "WorkspaceError", "ConflictError", "NotFound", "STATUSES"]
