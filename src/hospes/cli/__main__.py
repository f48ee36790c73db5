"""``python -m hospes.cli``: the ``hospes`` command."""

from hospes.cli import main

main()
