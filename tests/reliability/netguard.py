"""Make every outgoing network connection fail, and write down who tried.

Used two ways by the privacy tests:

- in process: :func:`install` patches ``socket`` (``connect``, ``connect_ex``, ``sendto``,
  ``sendmsg``, ``create_connection``, name look-ups) so that any destination other than the
  loopback range (127.0.0.0/8, ::1, ``localhost``) or a Unix socket raises ``OSError`` before a
  single packet leaves, and records the attempt;
- in subprocesses: this file is copied as ``sitecustomize.py`` into a directory put first on
  ``PYTHONPATH``; Python imports it at start-up and it installs itself when
  ``CAREMATCH_NETGUARD_LOG`` names a file. It appends ``LOADED <pid>`` there (so a test can tell
  the guard really ran) and ``BLOCKED <pid> <what> <where>`` for each attempt.

Standard library only; nothing here ever reaches a non-loopback address, even by mistake: the
check runs before the real ``connect``.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import traceback

ENV = "CAREMATCH_NETGUARD_LOG"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_local_host(host) -> bool:
    """True for loopback addresses and names, and for the wildcard a server binds to."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip().lower().strip("[]")
    if host in _LOCAL_NAMES or host == "":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name other than localhost: resolving it is already a DNS query
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def is_local_address(address) -> bool:
    """An address as ``socket.connect`` takes it: Unix paths are local, (host, port...) tuples
    are local only on the loopback range."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        if isinstance(address[0], (str, bytes)) or address[0] is None:
            return is_local_host(address[0])
        return True  # AF_NETLINK (pid, groups) and the like never leave the machine
    return False


class Guard:
    """The patches of one installation; ``attempts`` lists what was refused."""

    def __init__(self, log_path: str | None = None) -> None:
        self.log_path = log_path
        self.attempts: list[str] = []
        self._saved: list[tuple[object, str, object]] = []

    def _refuse(self, what: str, where) -> OSError:
        stack = "".join(traceback.format_stack(limit=8)[:-2]).replace("\n", " | ")
        entry = f"{what} {where!r}"
        self.attempts.append(entry)
        if self.log_path:
            try:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(f"BLOCKED {os.getpid()} {entry} at {stack}\n")
            except OSError:
                pass
        return OSError(101, f"network is unreachable (carematch test guard refused {what} to {where!r})")

    def _patch(self, owner, name: str, new) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def install(self) -> "Guard":
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_sendto = socket.socket.sendto
        real_sendmsg = socket.socket.sendmsg
        real_getaddrinfo = socket.getaddrinfo
        real_gethostbyname = socket.gethostbyname
        real_gethostbyname_ex = socket.gethostbyname_ex

        def connect(self, address):
            if not is_local_address(address):
                raise guard._refuse("connect", address)
            return real_connect(self, address)

        def connect_ex(self, address):
            if not is_local_address(address):
                guard._refuse("connect_ex", address)
                return 101
            return real_connect_ex(self, address)

        def sendto(self, data, *args):
            address = args[-1] if args else None
            if address is not None and not is_local_address(address):
                raise guard._refuse("sendto", address)
            return real_sendto(self, data, *args)

        def sendmsg(self, buffers, ancdata=(), flags=0, address=None, *rest):
            if address is not None and not is_local_address(address):
                raise guard._refuse("sendmsg", address)
            args = (buffers, ancdata, flags) + ((address,) if address is not None else ()) + rest
            return real_sendmsg(self, *args)

        def getaddrinfo(host, *args, **kwargs):
            if not is_local_host(host):
                guard._refuse("getaddrinfo", host)
                raise socket.gaierror(socket.EAI_NONAME, f"name resolution refused by the test guard: {host!r}")
            return real_getaddrinfo(host, *args, **kwargs)

        def gethostbyname(host):
            if not is_local_host(host):
                guard._refuse("gethostbyname", host)
                raise socket.gaierror(socket.EAI_NONAME, f"name resolution refused by the test guard: {host!r}")
            return real_gethostbyname(host)

        def gethostbyname_ex(host):
            if not is_local_host(host):
                guard._refuse("gethostbyname_ex", host)
                raise socket.gaierror(socket.EAI_NONAME, f"name resolution refused by the test guard: {host!r}")
            return real_gethostbyname_ex(host)

        self._patch(socket.socket, "connect", connect)
        self._patch(socket.socket, "connect_ex", connect_ex)
        self._patch(socket.socket, "sendto", sendto)
        self._patch(socket.socket, "sendmsg", sendmsg)
        self._patch(socket, "getaddrinfo", getaddrinfo)
        self._patch(socket, "gethostbyname", gethostbyname)
        self._patch(socket, "gethostbyname_ex", gethostbyname_ex)
        # create_connection resolves through socket.getaddrinfo and connects through
        # socket.socket.connect, both patched above; nothing else to do for it
        return self

    def uninstall(self) -> None:
        while self._saved:
            owner, name, old = self._saved.pop()
            setattr(owner, name, old)


def install_from_env() -> Guard | None:
    path = os.environ.get(ENV)
    if not path:
        return None
    guard = Guard(path).install()
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"LOADED {os.getpid()}\n")
    except OSError:
        pass
    return guard


if __name__ == "sitecustomize":
    _GUARD = install_from_env()
