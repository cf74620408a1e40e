"""The words pages show for the platform's states and kinds (translated by the page)."""

from __future__ import annotations

from orchestrator.web.i18n import N_

STATUS = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "awaiting_approval": N_("Awaiting approval"),
    "completed": N_("Completed"),
    "failed": N_("Failed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "pending": N_("Pending"),
    "dispatched": N_("Sent to a node"),
    "succeeded": N_("Done"),
    "skipped": N_("Skipped"),
    "approved": N_("Approved"),
    "ready": N_("Ready"),
    "not_ready": N_("Not ready"),
    "cordoned": N_("Cordoned"),
    "draining": N_("Draining"),
    "drained": N_("Drained"),
    "active": N_("Active"),
}
KIND = {
    "llm": N_("Agent"),
    "rule": N_("Rule"),
    "tool": N_("Tool"),
    "human_approval": N_("Human approval"),
    "deliver": N_("Delivery"),
}
DECISION = {"approve": N_("Approved"), "reject": N_("Rejected"), "edit": N_("Edited and approved")}
APPROVAL_FILTERS = (
    ("pending", N_("Waiting for a decision")),
    ("approved", N_("Approved")),
    ("rejected", N_("Rejected")),
    ("", N_("All")),
)
LANGUAGE = {"fr": N_("French"), "ar": N_("Arabic"), "en": N_("English")}


def status(value: str | None) -> str:
    return STATUS.get(value or "", value or "")


def kind(value: str | None) -> str:
    return KIND.get(value or "", value or "")
