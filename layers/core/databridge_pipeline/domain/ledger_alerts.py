"""The alert for a ledger item the code cannot read: a person must look, since no pass can move its run.

It names the item by its key and says what failed to parse, never what the item holds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.text import for_slack


class UnreadableAlert(BaseModel):
    """One alert per unreadable run item (the ledger marks it alerted); its table's slot stays held."""

    model_config = ConfigDict(frozen=True)

    environment: str
    table: str
    run_id: str
    error: str

    @property
    def headline(self) -> str:
        return f":red_circle: [{self.environment}] {self.table} run {self.run_id} is unreadable in the ledger"

    def text(self) -> str:
        env = self.environment
        return "\n".join(
            [
                self.headline,
                f"{for_slack(self.error)}: written by another version of the pipeline, or damaged. The table's "
                "slot stays held (no new run starts) until it is read or ended.",
                f"deploy the version that wrote it, or end it: databridge-pipeline cancel {self.table} "
                f"--run-id {self.run_id} --reason TEXT --env {env}",
            ]
        )

    def blocks(self) -> list[dict[str, Any]]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": self.text()}}]
