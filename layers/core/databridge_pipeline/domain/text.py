"""Text that came from outside (Batch's free-text status reason, a hand-written message), made safe for
where it is shown: Slack's mrkdwn, where ``<!channel>`` pings everyone and ``<url|label>`` disguises a
link, and a terminal, where an escape sequence can rewrite the screen."""

from __future__ import annotations

import re

# C0 and C1 control characters and DEL, but tab and newline (ANSI escapes start with ESC, U+001B).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, an ellipsis showing where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def for_slack(text: str, limit: int = 500) -> str:
    """Slack's three escapes (``&``, ``<``, ``>``), control characters removed, at most ``limit`` characters."""
    plain = cut(_CONTROL.sub("", text), limit)
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def for_terminal(text: str) -> str:
    """Control characters (escape sequences included) removed; tabs and newlines kept."""
    return _CONTROL.sub("", text)
