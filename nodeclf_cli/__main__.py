"""``python -m nodeclf_cli`` is the same as the ``nodeclf`` command."""

from .cli import main

main()
