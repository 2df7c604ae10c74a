"""Slack: post an alert with slack_sdk; the bot token comes from Secrets Manager (cached by Powertools)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from databridge_pipeline.domain.alerts import Alert, StaleAlert
from databridge_pipeline.domain.ledger_alerts import UnreadableAlert

if TYPE_CHECKING:
    from slack_sdk import WebClient


SLACK_TIMEOUT_SECONDS = 5


class SlackAlerts:
    def __init__(self, token: Callable[[], str], channel: str, base_url: str | None = None) -> None:
        """``token`` is called at each post so a rotated secret is picked up when the cache expires."""
        self._token = token
        self._channel = channel
        self._base_url = base_url

    def post(self, alert: Alert | StaleAlert | UnreadableAlert) -> None:
        """Post or raise (SlackApiError, URLError): the caller keeps the alert pending and retries."""
        self._client().chat_postMessage(channel=self._channel, text=alert.text(), blocks=alert.blocks())

    def _client(self) -> WebClient:
        # Imported here, not at cold start: slack_sdk costs ~70 ms to import and most invocations post nothing.
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        # 5 s a request: with slack_sdk's one retry on a connection error a post takes at most ~10 s, which the
        # pass budgets (reconciler.POST_SECONDS) inside the dispatcher's 60 s.
        kwargs: dict[str, Any] = {"token": self._token(), "timeout": SLACK_TIMEOUT_SECONDS}
        if self._base_url:
            kwargs["base_url"] = self._base_url
        client = WebClient(**kwargs)
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
        return client


def secret_token(secret_name: str) -> Callable[[], str]:
    """A token getter over Powertools parameters: one Secrets Manager call per 5 minutes per container."""

    def token() -> str:
        from aws_lambda_powertools.utilities import parameters  # at the first alert, not at cold start

        secret = parameters.get_secret(secret_name, transform="json", max_age=300)
        return str(secret["token"])

    return token
