"""Outside text made safe for Slack and for a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from databridge_pipeline.domain.text import for_slack, for_terminal


def test_slack_escapes_exactly_its_three_characters():
    assert for_slack("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_a_terminal_sees_no_escape_sequence_but_keeps_lines_and_tabs():
    assert for_terminal("red \x1b[31mtext\x1b[0m\tok\nnext\x07") == "red [31mtext[0m\tok\nnext"


@pytest.mark.property
@given(st.text())
def test_no_slack_control_sequence_survives(text):
    shown = for_slack(text)

    assert "<" not in shown and ">" not in shown
    assert "&" not in shown.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert all(ch in "\t\n" or ch.isprintable() or ord(ch) > 0x9F for ch in shown)


@pytest.mark.property
@given(st.text())
def test_no_control_character_reaches_the_terminal(text):
    assert not any((ord(ch) < 0x20 and ch not in "\t\n") or 0x7F <= ord(ch) <= 0x9F for ch in for_terminal(text))
