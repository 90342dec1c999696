"""The ``ringflow`` command: the root app, which gathers one module per command group.

Each group module (cli/stack.py, campaigns.py, agents.py, numbers.py, orgs.py, people.py, deploy.py, tools.py,
connections.py, departments.py) defines its own commands and sub-app and imports only cli/common.py and
cli/agents.py, never this module, so that there is no import cycle. Temporal, SQLAlchemy and the workflows are
imported inside the commands that use them, so that ``ringflow --help`` and option mistakes answer at once.
"""

import typer

from cli.agents import agent_app
from cli.campaigns import campaign_app
from cli.connections import connection_app
from cli.departments import department_app
from cli.deploy import codec_app, db_app, temporal_app
from cli.knowledge import docs_app
from cli.numbers import numbers_app
from cli.orgs import org_app
from cli.people import people_app
from cli.stack import demo, dev
from cli.tools import tool_app
from cli.webhooks import webhook_app

app = typer.Typer(
    name="ringflow",
    help="Outbound AI phone-call campaigns where every campaign and contact is a durable Temporal workflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(dev)
app.command()(demo)
app.add_typer(campaign_app, name="campaign")
agent_app.add_typer(docs_app, name="docs")
app.add_typer(agent_app, name="agent")
app.add_typer(numbers_app, name="numbers")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(people_app, name="people")
app.add_typer(codec_app, name="codec")
app.add_typer(temporal_app, name="temporal")
app.add_typer(webhook_app, name="webhook")
app.add_typer(tool_app, name="tool")
app.add_typer(connection_app, name="connection")
app.add_typer(department_app, name="department")


def main() -> None:
    """Console-script entry point (``ringflow``)."""
    app(prog_name="ringflow")
