"""The long-running agent: load, schedule, serve, reload on SIGHUP or POST /-/reload."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from dataclasses import dataclass

from agent import __version__, logs
from agent.collector import Collector, discover
from agent.config import Config, load_config, parse_listen
from agent.context import Context
from agent.scheduler import Scheduler
from agent.server import AgentHTTPServer
from agent.snapshot import Snapshot
from agent.webconfig import load_web_config
from agent.yamlfile import ConfigError

log = logging.getLogger("egov.agent")


@dataclass
class Loaded:
    config: Config
    context: Context
    collectors: dict[str, Collector]

    def configure(self, snapshot: Snapshot, hold: float | None = None) -> None:
        """Tell the snapshot how to hold check states and where each target stands."""
        snapshot.configure(self.config.agent.check_hold if hold is None else hold,
                           self.context.inventory, self.context.host)


def load(config_path: str | None, inventory_path: str | None) -> Loaded:
    """Config, inventory and the collectors built from them; raises ConfigError on bad input."""
    config = load_config(config_path)
    inventory_path = inventory_path or config.agent.inventory
    inventory = None
    if inventory_path:
        from agent.inventory import load_inventory

        inventory = load_inventory(inventory_path)
    context = Context(inventory=inventory)
    if config.agent.inventory_host:
        context.host = config.agent.inventory_host
    classes = discover()
    collectors = {name: classes[name](settings, context) for name, settings in config.collectors.items()}
    return Loaded(config, context, collectors)


class Agent:
    def __init__(self, config_path: str | None, inventory_path: str | None, listen: str | None = None):
        self.config_path, self.inventory_path, self.listen_override = config_path, inventory_path, listen
        self.snapshot = Snapshot()
        self.scheduler = Scheduler(self.snapshot)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    async def reload(self) -> tuple[bool, str]:
        try:
            loaded = load(self.config_path, self.inventory_path)
        except ConfigError as err:
            log.error("reload rejected, the old config keeps serving", extra={"error": str(err)})
            self.snapshot.reloaded(False)
            return False, f"reload rejected: {err}"
        loaded.configure(self.snapshot)
        await self.scheduler.start(loaded.collectors)
        self.snapshot.reloaded(True)
        log.info("reloaded", extra={"collectors": ",".join(loaded.collectors)})
        return True, "reloaded"

    def _reload_from_thread(self) -> tuple[bool, str]:
        return asyncio.run_coroutine_threadsafe(self.reload(), self._loop).result(timeout=60)

    async def run(self, loaded: Loaded) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        settings = loaded.config.agent
        host, port = parse_listen(self.listen_override or settings.listen)
        web = load_web_config(settings.web_config_file)
        server = AgentHTTPServer((host, port), self.snapshot, web, self._reload_from_thread)
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(signum, self._stopping.set)
        self._loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        loaded.configure(self.snapshot)
        await self.scheduler.start(loaded.collectors)
        scheme = "https" if web.tls_server_config else "http"
        log.info("listening", extra={"address": f"{scheme}://{host}:{port}", "version": __version__,
                                     "config": loaded.config.source, "collectors": ",".join(loaded.collectors)})
        await self._stopping.wait()
        log.info("stopping")
        await self.scheduler.stop()
        server.shutdown()
        server.server_close()


def serve(config_path: str | None, inventory_path: str | None, listen: str | None) -> int:
    loaded = load(config_path, inventory_path)  # bad input at start: the caller prints it and exits
    logs.setup(loaded.config.agent.log_level, loaded.config.agent.log_format)
    asyncio.run(Agent(config_path, inventory_path, listen).run(loaded))
    return 0
