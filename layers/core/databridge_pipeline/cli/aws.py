"""The operator commands' way to a deployed stack: the options that name it, the client they open, and its
AWS errors as one line saying what to do (exit 1).

``cli.stack`` (and so boto3) is imported only when a command calls AWS, so the config commands start fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from databridge_pipeline.cli.args import LEDGER_TABLE, REGION, STACK_NAME, CommandFailed, http_url

if TYPE_CHECKING:
    from databridge_pipeline.cli.stack import Stack


def add_stack_options(command: argparse.ArgumentParser) -> None:
    """``--env`` and where its stack is; the stack's outputs find the rest. Each is checked as AWS names it,
    so a mistyped one is a usage error before any call (an empty one does not mean the default)."""
    command.add_argument("--env", choices=["dev", "prod"], required=True, help="which deployed stack")
    command.add_argument(
        "--stack-name", type=STACK_NAME, help="CloudFormation stack (default: databridge-pipeline-ENV)"
    )
    command.add_argument("--region", type=REGION, help="AWS region (default: your AWS configuration's)")
    command.add_argument(
        "--endpoint-url", type=http_url, metavar="URL", help="send every AWS call here (e.g. a local moto server)"
    )
    command.add_argument(
        "--ledger-table", type=LEDGER_TABLE, help="the run ledger (default: the stack's LedgerTableName output)"
    )


def open_stack(args: argparse.Namespace) -> Stack:
    """The stack the options name; it makes no AWS call until it is used."""
    from databridge_pipeline.cli.stack import Stack, default_stack_name

    return Stack(
        args.stack_name or default_stack_name(args.env),
        region=args.region,
        endpoint_url=args.endpoint_url,
        queue_url=getattr(args, "queue_url", None),
        ledger_table=getattr(args, "ledger_table", None),
    )


@contextmanager
def aws_errors() -> Iterator[None]:
    """Around a command's AWS side: an ``OperatorError`` becomes a ``CommandFailed`` (one line, exit 1)."""
    from databridge_pipeline.cli.stack import OperatorError

    try:
        yield
    except OperatorError as error:
        raise CommandFailed(str(error)) from None
