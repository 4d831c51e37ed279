"""The chat app and HTTP API: `python app.py` (same as `advisor serve`)."""

from advisor.present.cli import app

if __name__ == "__main__":
    app(["serve"])
