"""Fetching a small document from a URL that a client names: the rules against server-side request forgery.

Client ID metadata documents (oauth/metadata_documents.py) come this way, and so will a client's ``jwks_uri``.
Whoever sends an authorization request chooses the URL, so Hospes must not become a way into the networks it
can reach (draft-ietf-oauth-client-id-metadata-document, Security Considerations, SSRF;
https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html):

- https only; the certificate is checked against the system's CA store (``ssl.create_default_context``, which
  reads OpenSSL's default paths: ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured);
- the host is resolved once and every address it resolves to is checked first: loopback, private,
  link-local and reserved addresses are refused unless ``allow_private`` (HOSPES_FETCH_ALLOW_PRIVATE), and
  an unspecified or multicast one always; IPv4 addresses written inside IPv6 ones (mapped, 6to4, Teredo,
  NAT64) are checked as the IPv4 address they carry;
- the connection goes to an address that was checked, with the host's name for SNI and the certificate
  check, so a second DNS answer (DNS rebinding) has nothing to change;
- no redirects: any answer but 200 is refused;
- a size limit (the ``Content-Length`` announced and the bytes read) and one deadline for the whole fetch
  (resolution, connection, TLS handshake, answer).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TIMEOUT = 5.0  # seconds for the whole fetch
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 §2.1, the well-known prefix
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")  # RFC 791: "this host on this network", never a server
# getaddrinfo has no timeout of its own: it runs here and is waited for until the deadline.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hospes-resolve")
# Fetches under way at once in a process: each holds a request's thread up to TIMEOUT, so slow hosts named on
# purpose must not take every thread the web layer has.
MAX_AT_ONCE = 8
_slots = threading.BoundedSemaphore(MAX_AT_ONCE)


class FetchError(Exception):
    """The document could not be fetched; the message says why, in words for the person who sees it."""


@dataclass(frozen=True)
class Fetched:
    body: bytes
    # Cache-Control (RFC 9111 §5.2.2): max-age in seconds; 0 for no-store or no-cache; None when not given.
    max_age: int | None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (RFC 4291 §2.5.5.2 mapped, RFC 3056 6to4, RFC 4380 Teredo's
    client, RFC 6052 NAT64), which is where a packet to it ends up."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be fetched from (a few words), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return refusal(inner, allow_private=allow_private)
    if address.is_unspecified or address.is_multicast or address in _THIS_NETWORK:
        return "an unspecified or multicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private address"
    return None


def _deadline_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _resolve(host: str, port: int, deadline: float) -> list[Address]:
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=_deadline_left(deadline))
    except FutureTimeout:
        raise TimeoutError from None
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"The host {host} could not be found.") from None
    addresses: list[Address] = []
    for info in infos:
        # sockaddr[0] of an IPv6 link-local address may carry a zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"The host {host} could not be found.")
    return addresses


def _max_age(values: list[str]) -> int | None:
    age: int | None = None
    for directive in ",".join(values).split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return 0
        value = value.strip().strip('"')
        if name == "max-age" and value.isascii() and value.isdigit():
            age = int(value[:12])
    return age


def fetch(url: str, *, allow_private: bool, limit: int, timeout: float = TIMEOUT,
          accept: str = "application/json") -> Fetched:
    """GET ``url`` by the rules above; raises FetchError saying what went wrong."""
    if not url.isascii():  # RFC 3986 §2: a URI is ASCII (an IDN host is written in its A-label)
        raise FetchError("The URL is not valid: it must be written in ASCII.")
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        raise FetchError("The URL is not valid.") from None
    host = parts.hostname
    if parts.scheme != "https" or not host:
        raise FetchError("Only https URLs are fetched.")
    if not _slots.acquire(blocking=False):
        raise FetchError("Too many documents are being fetched at once; try again shortly.")
    try:
        return _fetch(parts.path or "/", parts.query, host, port, time.monotonic() + timeout, timeout,
                      allow_private=allow_private, limit=limit, accept=accept)
    finally:
        _slots.release()


def _fetch(path: str, query: str, host: str, port: int, deadline: float, timeout: float, *, allow_private: bool,
           limit: int, accept: str) -> Fetched:
    try:
        addresses = _resolve(host, port, deadline)
        for address in addresses:
            why = refusal(address, allow_private=allow_private)
            if why is not None:
                raise FetchError(f"The host {host} resolves to {why} ({address}), which is not fetched from.")
        return _get(path, query, host, port, addresses, deadline, limit, accept)
    except TimeoutError:
        raise FetchError(f"The host {host} did not answer within {timeout:g} seconds.") from None
    except ssl.SSLCertVerificationError as exc:
        raise FetchError(f"The certificate of {host} is not trusted ({exc.verify_message}).") from None
    except (ssl.SSLError, http.client.HTTPException):
        raise FetchError(f"The host {host} did not give a valid https answer.") from None
    except OSError:
        raise FetchError(f"The host {host} could not be reached.") from None


def _connect(host: str, port: int, addresses: list[Address], deadline: float) -> ssl.SSLSocket:
    """A TLS connection to the first checked address that answers, its certificate checked for ``host``."""
    context = ssl.create_default_context()
    failure: OSError = OSError("no address")
    for address in addresses:
        try:
            raw = socket.create_connection((str(address), port), _deadline_left(deadline))
        except TimeoutError:
            raise
        except OSError as exc:  # this address does not answer: the next one may
            failure = exc
            continue
        try:
            raw.settimeout(_deadline_left(deadline))
            return context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
    raise failure


def _get(path: str, query: str, host: str, port: int, addresses: list[Address], deadline: float, limit: int,
         accept: str) -> Fetched:
    target = path + ("?" + query if query else "")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target):
        raise FetchError("The URL is not valid.")
    authority = (f"[{host}]" if ":" in host else host) + ("" if port == 443 else f":{port}")
    sock = _connect(host, port, addresses, deadline)
    try:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: {accept}\r\nUser-Agent: Hospes\r\n"
                     "Accept-Encoding: identity\r\nConnection: close\r\n\r\n".encode("ascii", "strict"))
        response = http.client.HTTPResponse(sock, method="GET")
        sock.settimeout(_deadline_left(deadline))
        response.begin()
        try:
            return _answer(response, sock, host, deadline, limit)
        finally:
            response.close()
    finally:
        sock.close()


def _answer(response: http.client.HTTPResponse, sock: socket.socket, host: str, deadline: float,
            limit: int) -> Fetched:
    if 300 <= response.status < 400:
        # draft-ietf-oauth-client-id-metadata-document §"Client Information Discovery": no redirects.
        raise FetchError(f"{host} answered with a redirect (HTTP {response.status}), which is not followed.")
    if response.status != 200:
        raise FetchError(f"{host} answered HTTP {response.status}, not the document.")
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length.strip()) > limit:
        raise FetchError(f"The document at {host} is larger than {limit} bytes.")
    body = b""
    while True:
        sock.settimeout(_deadline_left(deadline))
        chunk = response.read(min(4096, limit + 1 - len(body)))
        if not chunk:
            break
        body += chunk
        if len(body) > limit:
            raise FetchError(f"The document at {host} is larger than {limit} bytes.")
    return Fetched(body, _max_age(response.headers.get_all("Cache-Control") or []))
