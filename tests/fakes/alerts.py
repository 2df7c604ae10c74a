"""Slack in memory: the alerts posted, and an outage of as many posts as a test asks for."""

from __future__ import annotations

from databridge_pipeline.domain.alerts import Alert, StaleAlert
from databridge_pipeline.domain.ledger_alerts import UnreadableAlert


class SlackDown(Exception):
    """What a post raises while the fake Slack is failing (slack_sdk's SlackApiError or URLError, in AWS)."""


class FakeAlerts:
    def __init__(self) -> None:
        self.posts: list[Alert | StaleAlert | UnreadableAlert] = []
        self.refused = 0
        self._failures = 0

    def fail_next(self, times: int = 1) -> None:
        """The next ``times`` posts raise ``SlackDown`` and are not kept; 0 ends an outage."""
        self._failures = times

    def texts(self) -> list[str]:
        return [alert.text() for alert in self.posts]

    def post(self, alert: Alert | StaleAlert | UnreadableAlert) -> None:
        if self._failures:
            self._failures -= 1
            self.refused += 1
            raise SlackDown(f"Slack refused: {alert.headline}")
        self.posts.append(alert)
