"""Local infrastructure: an embedded DynamoDB endpoint (moto's server on loopback).

Not a store backend — ``DynamoStore`` talks to it over HTTP exactly as to
AWS. ``server.EmbeddedDynamo`` starts and stops the child process;
``moto_server`` is that process's entry point, moto's app with the patches
that make it behave like DynamoDB (one request at a time, cheap
transactions). Needs the ``embedded`` extra, which a lean install leaves out.
"""

from scout_service.embedded.server import (
    EMBEDDED_MODULES,
    FAKE_CREDENTIALS,
    INSTALL_HINT,
    EmbeddedDynamo,
    embedded_available,
)

__all__ = [
    "EMBEDDED_MODULES",
    "FAKE_CREDENTIALS",
    "INSTALL_HINT",
    "EmbeddedDynamo",
    "embedded_available",
]
