"""Moved to ``scout_service.embedded.moto_server`` (this path still imports and runs)."""

import sys

from scout_service.embedded.moto_server import (
    RollbackBroken,
    back_up_items_not_tables,
    check_transactions_roll_back,
    exit_with_parent,
    main,
    serialized,
)

__all__ = [
    "RollbackBroken",
    "back_up_items_not_tables",
    "check_transactions_roll_back",
    "exit_with_parent",
    "main",
    "serialized",
]

# The old path is the same module object, so a monkeypatch through it is seen by its users.
if __name__ != "__main__":
    sys.modules[__name__] = sys.modules["scout_service.embedded.moto_server"]
else:  # ``python -m`` of the old path
    main()
