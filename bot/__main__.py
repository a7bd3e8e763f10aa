"""``python -m bot``: the admin CLI, as the ``companion`` console script runs it."""

import sys

from bot.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
