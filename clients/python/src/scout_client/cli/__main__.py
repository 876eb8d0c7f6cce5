"""`python -m scout_client.cli`: the `scout` command without its entry point."""

import sys

from scout_client.cli.app import main

sys.exit(main())
