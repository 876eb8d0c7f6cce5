"""Scout's frozen evaluation set and the scorer behind ``make eval`` (see eval/README.md)."""
