"""HTTP API and patient web page (Starlette on uvicorn): ``carematch serve``.

- :func:`create_app` builds the ASGI application (also an import-string factory for uvicorn:
  ``uvicorn --factory search.server:create_app``); each worker opens one Engine at start-up.
- :func:`run` is what ``carematch serve`` calls: it checks the index, then starts uvicorn with
  one or more worker processes, uvicorn's access log off (it prints query strings) and the
  server's own privacy-preserving request log on.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .app import create_app

__all__ = ["create_app", "run", "LOG_CONFIG"]

LOG_CONFIG: dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
        "requests": {"format": "%(asctime)s %(levelname)s %(message)s", "datefmt": "%Y-%m-%dT%H:%M:%S%z"},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "requests": {"formatter": "requests", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "carematch": {"handlers": ["requests"], "level": "INFO", "propagate": False},
    },
}


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, index: str | Path | None = None,
        log_queries: bool = False) -> int:
    """Serve until interrupted; 0 on a clean stop, 1 if the server could not start."""
    import uvicorn

    from ..engine import DEFAULT_INDEX
    from ..errors import UsageError
    from ..indexer import read_manifest, resolve_snapshot

    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise UsageError("--workers: give a number from 1 to 64")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError("--port: give a number from 0 to 65535")
    index_path = Path(index).absolute() if index else Path(DEFAULT_INDEX).absolute()
    read_manifest(resolve_snapshot(index_path), verify=False)  # a missing index fails here, clearly
    # uvicorn workers are new processes: they read their settings from the environment
    os.environ["CAREMATCH_INDEX"] = str(index_path)
    os.environ["CAREMATCH_LOG_QUERIES"] = "1" if log_queries else "0"
    if log_queries:
        logging.getLogger("carematch.http").warning("--log-queries: query text will be written to the logs")
    options = dict(host=host, port=port, http="search.server.protocol:NoDelayH11Protocol",
                   access_log=False, log_config=LOG_CONFIG, server_header=False,
                   proxy_headers=False, timeout_keep_alive=5, timeout_graceful_shutdown=10, lifespan="on")
    try:
        if workers == 1:
            uvicorn.run(create_app(index_path, log_queries=log_queries), **options)
        else:
            uvicorn.run("search.server:create_app", factory=True, workers=workers, **options)
    except SystemExit as e:  # uvicorn exits 3 when the application did not start
        return 0 if e.code in (0, None) else 1
    return 0
