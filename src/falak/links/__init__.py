"""Telemetry links (UDP, TCP, file) with counters; :func:`open_link` builds one from a URL.

URL forms (``prefix_bytes=N`` and ``lenient=1`` may be added as query parameters to any):

* ``udp://HOST:PORT[?max_rate=DATAGRAMS_PER_S]`` — bind and receive datagrams, at most
  ``max_rate`` a second (the link's nominal rate: a flood beyond it is left to the kernel,
  which drops and counts it); ``recv_buffer_bytes=N`` sizes the kernel's receive buffer
  (default 32 MiB; with ``max_rate``, a smaller buffer bounds how stale a backlog can get);
* ``tcp://HOST:PORT`` — connect as a client, reconnect with backoff;
* ``tcp://HOST:PORT?mode=server`` — listen for one sender at a time;
* ``file:///PATH?rate=PACKETS_PER_S`` — replay a recorded file (no ``rate``: full speed).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from falak.clock import Clock
from falak.errors import InputError
from falak.links.base import Link, LinkStats, RateMeter, ReceivedBatch, RejectedRange, Sink
from falak.links.file import FileLink
from falak.links.tcp import TcpLink
from falak.links.udp import UdpLink

__all__ = [
    "FileLink",
    "Link",
    "LinkStats",
    "RateMeter",
    "ReceivedBatch",
    "RejectedRange",
    "Sink",
    "TcpLink",
    "UdpLink",
    "open_link",
]

_FORMS = "udp://HOST:PORT[?max_rate=DATAGRAMS_PER_S], tcp://HOST:PORT[?mode=server] or file:///PATH[?rate=PACKETS_PER_S]"


def open_link(url: str, name: str | None = None, *, clock: Clock | None = None) -> Link:
    """Build a link from a URL (see the module doc); ``name`` defaults to ``<scheme>0``.

    ``clock`` stamps reception times (:mod:`falak.clock`; default: real time).
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    link_name = name or f"{scheme}0"
    try:
        prefix = int(query.pop("prefix_bytes", "0"))
        lenient = query.pop("lenient", "0").lower() in ("1", "true", "yes")
        if scheme == "file":
            rate = query.pop("rate", None)
            local = parts.netloc in ("", "localhost")
            path = parts.path if local else parts.netloc + parts.path
            link: Link = FileLink(
                link_name,
                path,
                rate_pps=float(rate) if rate else None,
                prefix_bytes=prefix,
                lenient_version=lenient,
                clock=clock,
            )
        elif scheme in ("udp", "tcp"):
            if parts.port is None:
                raise InputError(f"link URL {url!r} has no port; use {_FORMS}")
            host = parts.hostname or "0.0.0.0"
            if scheme == "udp":
                max_rate = query.pop("max_rate", None)
                buffer = query.pop("recv_buffer_bytes", None)
                link = UdpLink(
                    link_name,
                    host,
                    parts.port,
                    prefix_bytes=prefix,
                    lenient_version=lenient,
                    max_rate=float(max_rate) if max_rate else None,
                    **({"recv_buffer_bytes": int(buffer)} if buffer else {}),
                    clock=clock,
                )
            else:
                mode = query.pop("mode", "client")
                if mode not in ("client", "server"):
                    raise InputError(f"tcp mode must be client or server, got {mode!r}")
                link = TcpLink(
                    link_name,
                    host,
                    parts.port,
                    server=mode == "server",
                    prefix_bytes=prefix,
                    lenient_version=lenient,
                    clock=clock,
                )
        else:
            raise InputError(f"unknown link URL {url!r}; use {_FORMS}")
    except ValueError as exc:
        raise InputError(f"bad link URL {url!r}: {exc}; use {_FORMS}") from None
    except OSError as exc:
        raise InputError(f"cannot open link {url!r}: {exc}") from None
    if query:
        raise InputError(
            f"unknown option(s) {', '.join(sorted(query))} in link URL {url!r}; "
            "allowed: prefix_bytes, lenient, rate (file), max_rate and recv_buffer_bytes (udp), "
            "mode (tcp)"
        )
    return link
