"""uvicorn's HTTP/1.1 protocol (h11) with TCP_NODELAY on every connection.

With ``--workers`` > 1, uvicorn binds the listening socket itself as ``socket.socket(family)``,
without naming the TCP protocol; asyncio then does not recognise the accepted sockets as TCP
and leaves Nagle's algorithm on. uvicorn writes a response's head and body separately, so the
body waited for the client's delayed ACK: 40-44 ms on every request (measured with
``bench/load.py``: 22 requests/s per connection with 2 workers against 1,000+ with 1).
"""
from __future__ import annotations

import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)
