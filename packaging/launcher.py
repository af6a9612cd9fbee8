"""Entry script of the PyInstaller bundle: the same as `python -m ui.app`."""

import sys

from ui.app import main

if __name__ == "__main__":
    sys.exit(main())
