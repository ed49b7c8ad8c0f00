"""``python -m orderflow`` runs the CLI (the local stack starts its components this way)."""

from orderflow.cli import app

if __name__ == "__main__":
    app(prog_name="orderflow")
