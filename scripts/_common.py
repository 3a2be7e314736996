"""What maintenance scripts share: finding the database of a running or stopped CSMS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # scripts run as `python scripts/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from models.embedded import EmbeddedDatabase, read_uri  # noqa: E402


def add_database_options(parser) -> None:
    """--data-dir and --mongodb-uri, defaulting to CSMS_DATA_DIR and MONGODB_URI."""
    parser.add_argument("--data-dir", default=os.environ.get("CSMS_DATA_DIR", "./data"))
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI") or None)


class DatabaseLocation:
    """The URI to use: given, published by a running server, or a temporary embedded server
    started on the data dir (stopped by ``close``)."""

    def __init__(self, data_dir: str, uri: str | None):
        self.embedded: EmbeddedDatabase | None = None
        self.uri = uri or read_uri(data_dir)
        if self.uri is None:
            self.embedded = EmbeddedDatabase(data_dir, write_uri_file=False)
            self.uri = self.embedded.start()

    def close(self) -> None:
        """Stop the temporary embedded server, if one was started."""
        if self.embedded is not None:
            self.embedded.stop()
