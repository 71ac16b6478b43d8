"""DNS probe: one query to the host as a DNS server (its address, the check's port) and
a check of the answer: the response code, and records matching the expected patterns.

Why dnspython's asyncquery and not its resolver: a probe asks one server one question and
judges the answer itself. The resolver turns NXDOMAIN and a missing answer into
exceptions, retries SERVFAIL, tries other servers and search domains; a query gives the
response as it came. One query, no retry, as blackbox_exporter's dns prober does; UDP
falls back to TCP when the answer is truncated. The deadline is the base's per-target
timeout.

Failures: an ICMP refusal → connect; an answer that is not DNS, a wrong response code or
no record matching a pattern → protocol; silence → timeout.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Probe, Sample, TimedCheck
from agent.schema import Port, Regex
from collectors import _tls
from collectors._stream import describe

SECTIONS = ("answer", "authority", "additional")
TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA")


@dataclass
class DnsCheck(TimedCheck):
    """One query to the host as a DNS server (its address, this port)."""

    query_name: str | None = field(default=None, metadata=REQUIRED)
    query_type: Literal[TYPES] = "A"
    port: Port = 53
    transport: Literal["udp", "tcp"] = "udp"  # udp retries over tcp when the answer is truncated
    rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"  # the response code expected
    # each matching one whole answer record as dig prints its data: 127\.0\.0\.5, 10 mx\.tinh\.vn\.
    answers: list[Regex] = field(default_factory=list)


@register
class DnsProbe(Probe):
    name = "dns"
    help = "DNS queries to the servers in the inventory's dns checks: response code, expected answers"
    CheckSettings = DnsCheck
    UP_HELP = "1 if the last dns query got the expected response code and answers."
    FAILURES_HELP = "Failed dns probes by reason (timeout, connect, protocol, config)."
    FAMILIES = {
        "records": ("gauge", "Records in each section of the last answer (answer, authority, additional).",
                    ["section"]),
        "soa_serial": ("gauge", "The zone's serial from the last answer, for a SOA query.", []),
    }

    async def probe(self, target, check):
        import dns.asyncquery
        import dns.exception
        import dns.message
        import dns.rcode
        import dns.rdatatype

        try:
            ipaddress.ip_address(target.address)
        except ValueError:  # dnspython sends to an address, and looking the server up would ask another one
            raise CollectorError("config", f"ansible_host {target.address} is not an IP address") from None
        try:
            query = dns.message.make_query(check.query_name, check.query_type)
        except dns.exception.DNSException as err:
            raise CollectorError("config", f"query_name {check.query_name}: {err}") from None
        try:
            if check.transport == "tcp":
                response = await dns.asyncquery.tcp(query, target.address, port=check.port)
            else:
                response, _ = await dns.asyncquery.udp_with_fallback(query, target.address, port=check.port)
        except dns.exception.DNSException as err:
            raise CollectorError("protocol", f"not a DNS answer: {err}") from None
        except OSError as err:  # the base would name it too, with asyncio's wording
            raise CollectorError("connect", describe(err)) from None
        rcode = dns.rcode.to_text(response.rcode())
        if rcode != check.rcode:
            raise CollectorError("protocol", f"{rcode} for {check.query_name} {check.query_type}, "
                                             f"expected {check.rcode}")
        records = [rdata.to_text() for rrset in response.answer for rdata in rrset]
        for pattern in check.answers:
            if not any(re.fullmatch(pattern, record) for record in records):
                raise CollectorError("protocol", f"no answer record matches '{pattern}', got "
                                                 + (", ".join(records) or "none"))
        sections = (response.answer, response.authority, response.additional)
        samples = [Sample("records", sum(len(rrset) for rrset in rrsets), (section,))
                   for section, rrsets in zip(SECTIONS, sections)]
        serial = next((rdata.serial for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA
                       for rdata in rrset), None)  # only a SOA query has one in its answer
        return samples if serial is None else [*samples, Sample("soa_serial", serial)]

    def evaluate(self, outcome):
        return _tls.evaluate(self.name, outcome, "answered")
