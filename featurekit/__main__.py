"""``python -m featurekit``: the ``featurekit`` command."""

from featurekit.cli import main

if __name__ == "__main__":  # pytest's doctest collection imports this module
    raise SystemExit(main())
