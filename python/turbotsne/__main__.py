"""``python -m turbotsne``: the same command line as the ``turbotsne`` script."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
