"""Serve a fleet of simulated devices until SIGTERM: `python -m tests.sim SPEC READY`.

SPEC is the JSON written by tests.sim.write_spec. Once every device listens, READY is
written (atomically) with this process's PID; a device that cannot listen ends the process
with its reason on stderr. Twisted (fake-switches) and asyncssh share one asyncio loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import traceback


def main(spec: str, ready: str) -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import reactor

    from tests.sim import Clock, cisco_ios, huawei_vrp, read_spec

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    devices, port = read_spec(spec)
    clock = Clock()
    failed = []

    async def start() -> None:
        try:
            for device in devices:
                if device.platform == "cisco_ios" and device.behaviour == "normal":
                    cisco_ios.listen(device, port, clock, reactor)
                else:
                    await huawei_vrp.listen(device, port, clock)
        except Exception:
            failed.append(traceback.format_exc())
            reactor.stop()
            return
        with open(ready + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "devices": len(devices), "port": port}, f)
        os.replace(ready + ".tmp", ready)

    tasks = []  # the loop keeps only a weak reference to a task
    reactor.callWhenRunning(lambda: tasks.append(loop.create_task(start())))
    reactor.run()  # until SIGTERM or SIGINT
    for text in failed:
        sys.stderr.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
