"""``restorer-gui [PHOTO]``: the GUI entry point (a gui-script: no console window on Windows).

The same as ``restorer gui [PHOTO]``, with that command's checks and one-line errors.
"""

from __future__ import annotations

import sys


def main() -> int:
    from restorer.cli import main as cli_main

    return cli_main(["gui", *sys.argv[1:]])
