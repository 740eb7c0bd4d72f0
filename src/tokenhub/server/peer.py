"""Who is on the other end of a connection: a TCP address, or a Unix-socket peer uid."""

from __future__ import annotations

import socket
import struct

from aiohttp import web

_UCRED = struct.Struct("3i")


def is_unix_socket(request: web.BaseRequest) -> bool:
    """True when the request arrived over the daemon's Unix socket."""
    transport = request.transport
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    return sock is not None and sock.family == socket.AF_UNIX


def peer_uid(request: web.BaseRequest) -> int | None:
    """The uid of the process on the other end of the Unix socket (Linux SO_PEERCRED)."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    _pid, uid, _gid = _UCRED.unpack(raw)
    return int(uid)


def describe_peer(request: web.BaseRequest) -> str:
    """The remote address, or 'unix:uid=1000' for a Unix-socket peer (which has none)."""
    remote = request.remote  # aiohttp reads the peer name once per connection
    if remote:
        return remote
    if is_unix_socket(request):
        return f"unix:uid={peer_uid(request)}"
    return "unknown"
