"""ICMP echo messages (RFC 792 for IPv4, RFC 4443 for IPv6): a request built, a reply read.

Pure: bytes in, bytes out, no sockets. collectors/icmp.py does the I/O.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def _fold(total: int) -> int:
    """The ones' complement of a ones' complement sum (RFC 1071)."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _word_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


class EchoTemplate:
    """Echo requests with one payload: the payload's part of the checksum is summed once.

    IPv4 requests carry their checksum. IPv6 ones leave it 0: it covers a pseudo-header
    with the source address, which only the kernel knows, and the kernel always fills it
    in for ICMPv6 sockets (raw and datagram alike).
    """

    def __init__(self, version: int, payload: bytes):
        if len(payload) % 2:
            raise ValueError("the payload must have an even length")
        self.version, self.payload = version, payload
        self._type = ECHO_REQUEST[version]
        self._payload_sum = _word_sum(payload)

    def request(self, identifier: int, sequence: int) -> bytes:
        check = 0
        if self.version == 4:
            check = _fold((self._type << 8) + identifier + sequence + self._payload_sum)
        return _HEADER.pack(self._type, 0, check, identifier, sequence) + self.payload


class Reply(NamedTuple):
    identifier: int
    sequence: int
    payload: bytes


def parse_reply(packet: bytes, version: int, ip_header: bool) -> Reply | None:
    """The echo reply in `packet`, or None for any other ICMP message or a truncated one.

    `ip_header`: the packet starts with the IPv4 header, as a raw IPv4 socket receives it
    (raw IPv6 and datagram ICMP sockets receive the ICMP message alone).
    """
    offset = (packet[0] & 0x0F) * 4 if ip_header and packet else 0
    if len(packet) < offset + _HEADER.size:
        return None
    type_, code, _, identifier, sequence = _HEADER.unpack_from(packet, offset)
    if type_ != ECHO_REPLY[version] or code != 0:
        return None
    return Reply(identifier, sequence, packet[offset + _HEADER.size:])
