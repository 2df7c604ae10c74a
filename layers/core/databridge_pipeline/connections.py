"""Connection ids -> Secrets Manager secrets, in one place.

A table config names its connections by the legacy Airflow connection ids. The Batch job definitions fill
environment variables from these secrets (``valueFrom: <secret>:<json key>::``), and step commands refer to
the variables by name, so no credential ever travels in a SubmitJob request, a message or a log line.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SecretField(BaseModel):
    """One environment variable of a job, filled from one JSON key of a secret."""

    model_config = ConfigDict(frozen=True)

    env_var: str
    json_key: str


class Connection(BaseModel):
    """A legacy connection id and where its credentials live."""

    model_config = ConfigDict(frozen=True)

    conn_id: str
    secret_name: str
    fields: dict[str, SecretField]

    def env_var(self, field: str) -> str:
        return self.fields[field].env_var


def _connection(conn_id: str, secret_name: str, *json_keys: str) -> Connection:
    """Environment variables are named ``<CONN_ID>_<JSON_KEY>``, e.g. ``CARTO_PHL_CONNECTION_STRING``."""
    return Connection(
        conn_id=conn_id,
        secret_name=secret_name,
        fields={key: SecretField(env_var=f"{conn_id}_{key}".upper(), json_key=key) for key in json_keys},
    )


CONNECTIONS: dict[str, Connection] = {
    c.conn_id: c
    for c in (
        _connection("databridge", "databridge", "connection_string"),
        _connection("knack", "knack-ppr", "app_id", "api_key"),
        _connection("knack_test", "knack-ppr-test", "app_id", "api_key"),
        _connection("carto_phl", "carto-prod", "connection_string"),
        _connection("carto_gsg", "carto-dev", "connection_string"),
    )
}

KNACK_CONNECTIONS = ("knack", "knack_test")
CARTO_CONNECTIONS = ("carto_phl", "carto_gsg")
DEFAULT_CARTO_CONNECTION = "carto_phl"
