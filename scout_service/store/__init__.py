"""Scout's state: the ``Store`` interface and its two implementations.

``MemoryStore`` is the in-process fake for fast tests; ``DynamoStore`` keeps
everything in one DynamoDB table (``create_table`` / ``check_table``), which
``EmbeddedDynamo`` (``scout_service.embedded``) can provide locally.
"""

from scout_service.embedded import EmbeddedDynamo
from scout_service.store.base import Store, StoreLimits
from scout_service.store.dynamodb import DynamoStore, make_client
from scout_service.store.memory import MemoryStore
from scout_service.store.table import DEFAULT_TABLE_NAME, check_table, create_table

__all__ = [
    "DEFAULT_TABLE_NAME",
    "DynamoStore",
    "EmbeddedDynamo",
    "MemoryStore",
    "Store",
    "StoreLimits",
    "check_table",
    "create_table",
    "make_client",
]
