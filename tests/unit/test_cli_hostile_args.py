"""Hostile arguments, typed as a reviewer would: each is refused before any work with one line naming the
problem, exit 2 (a usage mistake) or 1 (the command could not do its work), never a traceback, nothing on
stdout, nothing written, no AWS call.

The first six are the probes of issue 21 that ended in a traceback or a hang.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from databridge_pipeline.cli import main
from databridge_pipeline.cli.args import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_DAYS,
    MAX_HOURS,
    MAX_LIMIT,
    UsageError,
    parse_duration,
    parse_time,
    positive_hours,
    whole_number,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"
T = "databridge/lni/inspections"
STACK = ["--env", "dev"]
FOLDER = "{folder}"  # replaced by a folder that exists: tmp_path's sibling, so that nothing lands in tmp_path
TIME_RANGE = "give a time in the years 2000-2199 (UTC)"
DURATION_RANGE = "give a duration from 1m to 366d"
HOURS_RANGE = "give a number of hours from a minute (1/60) to 8784 (366 days)"

PROBES = [
    # issue 21's six
    (["due", "--from", "2026-01-01", "--to", "9999-12-31T23:59"], 2, f"--to: '9999-12-31T23:59': {TIME_RANGE}"),
    (["tables", "--now", "9999-12-31T23:59"], 2, f"--now: '9999-12-31T23:59': {TIME_RANGE}"),
    (["local", "--start", "9999-12-31T23:59"], 2, f"--start: '9999-12-31T23:59': {TIME_RANGE}"),
    (["rerun", "--failed", "--since", "99999999999d", *STACK], 2, f"--since: '99999999999d': {DURATION_RANGE}"),
    (["manifest", "--out", "/proc/nope/m.json"], 2, "--out /proc/nope/m.json: folder /proc/nope does not exist"),
    (["due", "--from", "0001-01-01", "--to", "9999-12-31T23:59"], 2, f"--from: '0001-01-01': {TIME_RANGE}"),
    # times: out of range either way, offsets that overflow on conversion, not times at all
    (["due", "--from", "0001-01-01T00:00+14:00", "--to", "2026-01-01"], 2, TIME_RANGE),
    (["due", "--from", "2026-01-01", "--to", "9999-12-31T23:59-14:00"], 2, TIME_RANGE),
    (["tables", "--now", "0001-01-01"], 2, TIME_RANGE),
    (["tables", "--now", "1999-12-31T23:59"], 2, TIME_RANGE),
    (["tables", "--now", "2200-01-01"], 2, TIME_RANGE),
    (["tables", "--now", "2199-12-31T23:00-05:00"], 2, TIME_RANGE),
    (["tables", "--now", ""], 2, "--now: '' is not an ISO-8601 time"),
    (["tables", "--now", "yesterday"], 2, "'yesterday' is not an ISO-8601 time"),
    (["tables", "--now", "2026-02-30"], 2, "'2026-02-30' is not an ISO-8601 time"),
    (["local", "--start", "   "], 2, "'   ' is not an ISO-8601 time"),
    # due's window
    (["due", "--from", "2026-01-01", "--to", "2027-01-03"], 2, "is 367.0 days; `due` covers at most 366 days"),
    (["due", "--from", "2000-01-01", "--to", "2199-12-31"], 2, "`due` covers at most 366 days"),
    (["due", "--from", "2026-01-02", "--to", "2026-01-01"], 2, "--to is before --from"),
    # durations
    (["rerun", "--failed", "--since", "1e400d", *STACK], 2, DURATION_RANGE),
    (["rerun", "--failed", "--since", "366.01d", *STACK], 2, DURATION_RANGE),
    (["rerun", "--failed", "--since", "0.5m", *STACK], 2, DURATION_RANGE),
    (["rerun", "--failed", "--since=-1h", *STACK], 2, DURATION_RANGE),
    (["rerun", "--failed", "--since", "nanh", *STACK], 2, DURATION_RANGE),
    (["rerun", "--failed", "--since", "", *STACK], 2, "'' is not a duration"),
    (["rerun", "--failed", "--since", "7", *STACK], 2, "'7' is not a duration"),
    (["rerun", "--failed", "--since", "7D", *STACK], 2, "'7D' is not a duration"),
    (["local", "--hours", "1e-300"], 2, HOURS_RANGE),
    (["local", "--hours", "1e308"], 2, HOURS_RANGE),
    (["local", "--hours", "8785"], 2, HOURS_RANGE),
    (["local", "--hours", ""], 2, "'' is not a number of hours"),
    # counts
    (["status", T, *STACK, "--limit", str(10**20)], 2, f"--limit: '{10**20}': give 1 or more, at most 1000"),
    (["status", T, *STACK, "--limit", "-5"], 2, "--limit: '-5': give 1 or more, at most 1000"),
    (["status", T, *STACK, "--limit", "0"], 2, "--limit: '0': give 1 or more"),
    (["status", T, *STACK, "--limit", "1.5"], 2, "--limit: '1.5' is not a whole number"),
    (["status", T, *STACK, "--limit", ""], 2, "--limit: '' is not a whole number"),
    (["status", T, *STACK, "--limit", "9" * 5000], 2, "is not a whole number"),
    (["local", "--serve", "--port", "65536"], 2, "--port: '65536': give 1 or more, at most 65535"),
    (["local", "--serve", "--port", "-1"], 2, "--port: '-1': give 1 or more"),
    (["local", "--port", "8080"], 2, "--port goes with --serve"),
    # paths: empty, folders, missing folders, a file where a folder goes, a NUL
    (["manifest", "--out", ""], 2, "--out '': give a file name"),
    (["manifest", "--out", FOLDER], 2, ": is a folder; give a file name"),
    (["manifest", "--out", "/etc/passwd/m.json"], 2, "folder /etc/passwd does not exist"),
    (["manifest", "--out", "a\0b.json"], 2, "--out 'a\\x00b.json': give a file name"),
    (["manifest", "--out", "../" * 40 + "nope/m.json"], 2, "does not exist"),
    (["local", "--report", FOLDER], 2, "--report {folder}: is a folder"),
    (["local", "--log", ""], 2, "--log '': give a file name"),
    (["local", "--log", "missing/x.log"], 2, "--log missing/x.log: folder missing does not exist"),
    (["local", "--template", FOLDER], 2, "--template {folder}: is a folder; give a file"),
    (["local", "--template", f"{FOLDER}/t.yaml"], 2, "cannot read it (no such file or directory)"),
    (["local", "--scenario", FOLDER], 2, "{folder}: Is a directory"),
    (["local", "--scenario", f"{FOLDER}/s.yml"], 2, "{folder}/s.yml: No such file or directory"),
    (["tables", "--configs", "/etc/passwd"], 2, "--configs /etc/passwd: is a file; give the table config folder"),
    (["validate", "--configs", ""], 2, "--configs: '': give the table config folder"),
    (["validate", "--configs", "a\0b"], 2, "give the table config folder"),
    (["tables", "--configs", f"{FOLDER}/nowhere"], 1, "{folder}/nowhere: no such config directory"),
    # table ids and prefixes: empty, unicode look-alikes, .., huge, a newline, an escape
    (["commands", ""], 2, "unknown table ''"),
    (["commands", "databridge/lni/ínspections"], 2, "(did you mean databridge/lni/inspections?)"),
    (["commands", "databridge/../../etc/passwd"], 2, "unknown table 'databridge/../../etc/passwd'"),
    (["commands", "x" * 100_000], 2, "unknown table 'xxxx"),
    (["commands", f"{T}\n"], 2, f"unknown table '{T}\\n' (did you mean {T}?)"),
    (["commands", "\x1b[2J\x9bdatabridge"], 2, "unknown table '\\x1b[2J\\x9bdatabridge'"),
    (["commands", "databridge/lni/\u202einspections"], 2, "unknown table 'databridge/lni/\\u202einspections'"),
    (["rerun", "databridge/..", *STACK], 2, "unknown table 'databridge/..'"),
    (["pause", "", "--reason", "x", *STACK], 2, "no table is '' or under it"),
    (["pause", "databridge/..", "--reason", "x", *STACK], 2, "no table is 'databridge/..' or under it"),
    (["pause", "/", "--reason", "x", *STACK], 2, "no table is '' or under it"),
    (["status", *STACK, "--prefix", ""], 2, "no table is '' or under it"),
    (["rerun", "--failed", "--prefix", "", *STACK], 2, "no table is '' or under it"),
    # free text and names
    (["pause", "databridge/lni", "--reason", "", *STACK], 2, "--reason must say why"),
    (["pause", "databridge/lni", "--reason", "x" * 201, *STACK], 2, "--reason: give one line of plain text"),
    (["pause", "databridge/lni", "--reason", "ok\x1b[2J", *STACK], 2, "--reason: give one line of plain text"),
    (["pause", "databridge/lni", "--reason", "two\nlines", *STACK], 2, "--reason: give one line of plain text"),
    (["commands", T, "--run-id", ""], 2, "--run-id: '' is not a run id"),
    (["commands", T, "--run-id", "x y; rm -rf /"], 2, "--run-id: 'x y; rm -rf /' is not a run id"),
    (["commands", T, "--run-id", "a" * 81], 2, "is not a run id"),
    (["commands", T, "--run-id", "preview\n"], 2, "--run-id: 'preview\\n' is not a run id"),
    (["status", *STACK, "--stack-name", ""], 2, "--stack-name: '' is not a CloudFormation stack name"),
    (["status", *STACK, "--stack-name", "a b"], 2, "is not a CloudFormation stack name"),
    (["status", *STACK, "--region", ""], 2, "--region: '' is not an AWS region"),
    (["status", *STACK, "--region", "us-east-1\n"], 2, "is not an AWS region"),
    (["status", *STACK, "--ledger-table", ""], 2, "--ledger-table: '' is not a DynamoDB table name"),
    (["status", *STACK, "--endpoint-url", "not a url"], 2, "'not a url' is not an http(s) URL"),
    (["status", *STACK, "--endpoint-url", "http://[::1"], 2, "is not an http(s) URL"),
    (["status", *STACK, "--endpoint-url", "http://localhost:99999"], 2, "is not an http(s) URL"),
    (["rerun", T, *STACK, "--queue-url", "file:///etc/passwd"], 2, "is not an http(s) URL"),
    (["rerun", T, *STACK, "--queue-url", ""], 2, "--queue-url: '' is not an http(s) URL"),
    (["status", "--env", "staging"], 2, "argument --env: invalid choice: 'staging'"),
    (["rerun", T, *STACK, "--from-step", "drop"], 2, "argument --from-step: invalid choice: 'drop'"),
]


@pytest.fixture
def run_cli(tmp_path, monkeypatch, capsys):
    """``main`` in an empty folder (to see that nothing is written), with no way to AWS."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("DATABRIDGE_CONFIGS", str(EXAMPLES))
    monkeypatch.delenv("COMMAND_SET", raising=False)

    def no_aws(*args, **kwargs):
        raise AssertionError("a refused command called AWS")

    monkeypatch.setattr(boto3, "client", no_aws)

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        out, err = capsys.readouterr()
        assert list(workdir.iterdir()) == [], "nothing is written"
        return code, out, err

    return run


def refusal(err: str) -> list[str]:
    """stderr without argparse's usage lines (``usage:`` and its indented continuations)."""
    return [line for line in err.splitlines() if not line.startswith(("usage:", " "))]


@pytest.mark.parametrize(("argv", "code", "says"), PROBES, ids=[f"{n:02}" for n in range(len(PROBES))])
def test_a_hostile_argument_is_one_line_naming_the_problem(run_cli, tmp_path, argv, code, says):
    argv = [arg.replace(FOLDER, str(tmp_path)) for arg in argv]

    exit_code, out, err = run_cli(argv)

    assert "Traceback" not in err
    [line] = refusal(err)
    assert says.replace(FOLDER, str(tmp_path)) in line
    assert exit_code == code
    assert out == ""
    assert len(line) < 400, "what was typed is echoed cut short"


def test_the_probes_are_counted():
    """The report of issue 21 counts them; a probe dropped by accident shows here."""
    assert len(PROBES) == 89


# --- text from outside, printed to a terminal ---------------------------------------------------------------

# What anyone with batch:TerminateJob can make a status reason say: clear the screen, colour, a bell, a
# carriage return and a line that forges another row, an 8-bit CSI, an OSC 8 hyperlink.
HOSTILE = "\x1b[2J\x1b[31mORA-12541\x07\r\nsent   rerun everything\x9b31m \x1b]8;;http://evil\x07log\x1b]8;;\x07"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what a terminal may act on, but tab and newline


def outputs_stack(stack) -> None:
    """A CloudFormation stack whose outputs name the run queue and ledger, as the SAM stack's do."""
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"RunQueueUrl": {"Value": stack.queue_url}, "LedgerTableName": {"Value": stack.env["LEDGER_TABLE"]}},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="databridge-pipeline-dev", TemplateBody=json.dumps(template)
    )


@pytest.fixture
def hostile_ledger(stack, context, monkeypatch):
    """The examples on moto: inspections' run failed (its retry too) with ``HOSTILE`` as Batch's reason,
    and a pause of databridge/opa written straight into the ledger with ``HOSTILE`` as reason and author."""
    from databridge_pipeline.adapters.ledger import DynamoLedger
    from databridge_pipeline.domain.pauses import Pause

    monkeypatch.setenv("DATABRIDGE_CONFIGS", str(EXAMPLES))
    outputs_stack(stack)
    stack.clock.now = datetime.now(UTC)  # rerun --since counts back from now
    stack.send({"table": T, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"})
    stack.deliver(stack.receive(), context)
    while (run := stack.run_item(T, "scheduled-20261124T1115Z"))["status"] == "running":
        if run["steps"][run["current"]]["status"] == "retry_pending":
            stack.clock.advance(minutes=16)  # past its retry delay
            stack.deliver(stack.receive(), context)
            continue
        job = stack.jobs()[-1]
        event = stack.job_event(job, "FAILED", exit_code=1, status_reason=HOSTILE)
        stack.handler("job_events").lambda_handler(event, context)
    pause = Pause(prefix="databridge/opa", reason=HOSTILE, paused_at=stack.clock.now, paused_by=HOSTILE)
    DynamoLedger(boto3.client("dynamodb", region_name="us-east-1"), stack.env["LEDGER_TABLE"]).pause(pause)
    return stack


@pytest.mark.parametrize(
    "argv",
    [
        ["status", *STACK],
        ["status", *STACK, "--failed"],
        ["status", T, *STACK],
        ["rerun", "--failed", "--dry-run", *STACK],
        ["rerun", "--failed", "--dry-run", "--force", *STACK],
        ["rerun", "databridge/opa/assessment_history", *STACK],
        ["resume", "databridge/opa/assessment_history", *STACK],
    ],
)
def test_no_control_character_from_batch_or_the_ledger_reaches_the_terminal(hostile_ledger, capsys, argv):
    capsys.readouterr()

    main(argv)

    out, err = capsys.readouterr()
    assert CONTROL.findall(out + err) == []
    assert "sent   rerun everything" not in out.splitlines(), "a reason cannot forge a line of its own"


def test_the_reasons_still_say_what_they_said_in_a_row_of_their_own(hostile_ledger, capsys):
    capsys.readouterr()

    assert main(["status", *STACK]) == 0

    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert len(rows) == 5, "one line per table"
    assert rows[T].endswith("[2J[31mORA-12541 sent rerun everything31m ]8;;http://evillo…")
    assert "by databridge/opa: [2J[31mORA-12541 sent rerun e…" in rows["databridge/opa/assessment_history"]


def test_json_keeps_the_reason_whole_as_escapes(hostile_ledger, capsys):
    capsys.readouterr()

    assert main(["status", *STACK, "--json"]) == 0

    out = capsys.readouterr().out
    assert CONTROL.findall(out) == []
    rows = {row["table"]: row for row in json.loads(out)}
    assert rows[T]["reason"].startswith("\x1b[2J\x1b[31mORA-12541\x07"), "kept; only the terminal is spared"
    assert "\x9b31m \x1b]8;;http://evil\x07" in rows[T]["reason"]
    assert rows["databridge/opa/assessment_history"]["paused"]["reason"] == HOSTILE


def test_every_command_prints_through_say():
    """``say`` (and the error lines of program.py) strip control characters; a bare ``print`` would not."""
    cli = Path(main.__code__.co_filename).parent
    printing = {
        f"{path.name}:{number}"
        for path in cli.glob("*.py")
        if path.name not in ("output.py", "program.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bprint\(", line)
    }
    assert printing == set()


# --- properties of the argument parsers ---------------------------------------------------------------------

ANY_TEXT = st.text(max_size=200)
OFFSETS = st.sampled_from(["", "Z", "+00:00", "-14:00", "+14:00", "-05:00", "+23:59", "+24:00", "-00:30:15"])
TIMES = st.builds(
    lambda moment, sep, offset: moment.isoformat(sep=sep) + offset,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.sampled_from(["T", " ", "t"]),
    OFFSETS,
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", "-0", "1_000", " 7 ", "1e400", "nan", "٣", "0x10", "1/60", "9" * 5000]),
)
DURATIONS = st.builds(str.__add__, NUMBERS, st.sampled_from(["m", "h", "d", "s", "D", "", "mm", "\n"]))
REFUSAL = 200  # a refusal stays this short, whatever it was given


def parsed_or_refused(parse, text):
    """``parse(text)``, or None when it was refused as a usage error of a readable length."""
    try:
        return parse(text)
    except UsageError as error:
        assert len(str(error)) < REFUSAL
        return None


@pytest.mark.property
@given(st.one_of(ANY_TEXT, TIMES))
def test_a_time_argument_is_in_range_or_a_usage_error(text):
    moment = parsed_or_refused(parse_time, text)

    assert moment is None or (moment.tzinfo is UTC and FIRST_YEAR <= moment.year <= LAST_YEAR)


@pytest.mark.property
@given(st.datetimes(min_value=datetime(FIRST_YEAR, 1, 1), max_value=datetime(LAST_YEAR, 12, 31, 23, 59, 59)))
def test_a_time_in_range_round_trips(moment):
    assert parse_time(moment.isoformat()) == moment.replace(tzinfo=UTC)
    assert parse_time(moment.replace(tzinfo=UTC).isoformat()) == moment.replace(tzinfo=UTC)


@pytest.mark.property
@given(st.one_of(ANY_TEXT, DURATIONS))
def test_a_duration_argument_is_in_range_or_a_usage_error(text):
    duration = parsed_or_refused(parse_duration, text)

    assert duration is None or timedelta(minutes=1) <= duration <= timedelta(days=MAX_DAYS)


@pytest.mark.property
@given(st.one_of(ANY_TEXT, NUMBERS))
def test_an_hours_argument_is_in_range_or_a_usage_error(text):
    hours = parsed_or_refused(positive_hours, text)

    assert hours is None or 1 / 60 <= hours <= MAX_HOURS


@pytest.mark.property
@given(st.one_of(ANY_TEXT, NUMBERS))
def test_a_count_argument_is_in_range_or_a_usage_error(text):
    limit = parsed_or_refused(whole_number(1, MAX_LIMIT), text)

    assert limit is None or 1 <= limit <= MAX_LIMIT
