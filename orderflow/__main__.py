"""``python -m orderflow``: the same as the ``orderflow`` console script."""

from orderflow.cli import main

if __name__ == "__main__":
    main()
