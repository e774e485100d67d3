"""A resolver the test controls (``Deps.resolver``): names map to the addresses a test
gives them, so no test asks the real DNS what a name means."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

# A global unicast address nothing in the tests sends to: what any name not given
# resolves to, so the example host names of the tests register as public.
PUBLIC = "93.184.215.14"


@dataclass
class FakeDns:
    """``names[host]``: its addresses ([]: it does not resolve); other names resolve to
    ``default``. ``lookups`` lists every name asked, in order."""

    names: dict[str, list[str]] = field(default_factory=dict)
    default: list[str] = field(default_factory=lambda: [PUBLIC])
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        addresses = self.names.get(host, self.default)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(addresses)
