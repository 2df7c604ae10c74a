"""Connection ids -> Secrets Manager secrets, in one place.

A table config names its connections by the legacy Airflow connection ids. The Batch job definitions fill
environment variables from these secrets (``valueFrom: <secret>:<json key>::``), and step commands refer to
the variables by name, so no credential ever travels in a SubmitJob request, a message or a log line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ConnectionType = Literal["databridge", "knack", "carto", "airtable", "ais"]


class SecretField(BaseModel):
    """One environment variable of a job, filled from one JSON key of a secret."""

    model_config = ConfigDict(frozen=True)

    env_var: str
    json_key: str


class Connection(BaseModel):
    """A legacy connection id, what it connects to, and where its credentials live."""

    model_config = ConfigDict(frozen=True)

    conn_id: str
    type: ConnectionType
    secret_name: str
    fields: dict[str, SecretField]

    def env_var(self, field: str) -> str:
        return self.fields[field].env_var


def _connection(conn_id: str, type_: ConnectionType, secret_name: str, *json_keys: str) -> Connection:
    """Environment variables are named ``<CONN_ID>_<JSON_KEY>``, e.g. ``CARTO_PHL_CONNECTION_STRING``."""
    return Connection(
        conn_id=conn_id,
        type=type_,
        secret_name=secret_name,
        fields={key: SecretField(env_var=f"{conn_id}_{key}".upper(), json_key=key) for key in json_keys},
    )


CONNECTIONS: dict[str, Connection] = {
    c.conn_id: c
    for c in (
        _connection("databridge", "databridge", "databridge", "connection_string"),
        _connection("knack", "knack", "knack-ppr", "app_id", "api_key"),
        _connection("knack_test", "knack", "knack-ppr-test", "app_id", "api_key"),
        _connection("carto_phl", "carto", "carto-prod", "connection_string"),
        _connection("carto_gsg", "carto", "carto-dev", "connection_string"),
        # The legacy Airflow connections of the airtable_to_carto DAG: Airtable's app id and token (login and
        # password there), and AIS's URL, key and user (host, password and login there).
        _connection("airtable", "airtable", "airtable", "app_id", "token"),
        _connection("ais", "ais", "ais", "url", "key", "user"),
    )
}


def connections_of_type(type_: str) -> tuple[str, ...]:
    """The connection ids of one type, in the order above."""
    return tuple(c.conn_id for c in CONNECTIONS.values() if c.type == type_)


KNACK_CONNECTIONS = connections_of_type("knack")
CARTO_CONNECTIONS = connections_of_type("carto")
DEFAULT_CARTO_CONNECTION = "carto_phl"


def stages_apart(conn_id: str | None) -> bool:
    """A test connection's data is staged apart (``<schema>_test``), as the legacy knack factory did for any
    ``knack_conn_id`` containing ``test``."""
    return conn_id is not None and "test" in conn_id
