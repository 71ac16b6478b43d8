"""Serve a fleet of simulated devices until SIGTERM: `python -m tests.sim SPEC READY`.

SPEC is the JSON written by tests.sim.write_spec. Once every device listens, READY is
written (atomically) with this process's PID; a device that cannot listen ends the process
with its reason on stderr.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import sys
import traceback


async def serve(spec: str, ready: str) -> None:
    from tests.sim import SIMULATORS, Clock, read_spec

    devices, port = read_spec(spec)
    clock = Clock()
    servers = [await importlib.import_module(SIMULATORS[device.platform]).listen(device, port, clock)
               for device in devices]
    with open(ready + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "devices": len(devices), "port": port}, f)
    os.replace(ready + ".tmp", ready)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(spec: str, ready: str) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        asyncio.run(serve(spec, ready))
    except Exception:
        sys.stderr.write(traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
