"""The long-running agent: load, schedule, serve, reload on SIGHUP or POST /-/reload."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import threading
from dataclasses import dataclass

from agent import __version__, logs
from agent.collector import Collector, discover
from agent.config import AgentSettings, Config, load_config, parse_listen
from agent.context import Context
from agent.scheduler import Scheduler, in_daemon_thread
from agent.server import AgentHTTPServer
from agent.snapshot import Snapshot
from agent.webconfig import load_web_config
from agent.yamlfile import ConfigError, shown

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
    context = Context(inventory=inventory, inventory_path=inventory_path)
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
        self._reload_lock = asyncio.Lock()
        self._loads_started = 0
        self._last_reload: tuple[bool, str] = (True, "reloaded")
        self._loading: threading.Thread | None = None
        self._abandoned_load: threading.Thread | None = None  # past the deadline, maybe stuck for good
        self._signal_reloads: set[asyncio.Task] = set()
        self._deadline = AgentSettings.reload_timeout  # the serving config's reload_timeout

    async def reload(self) -> tuple[bool, str]:
        """One reload at a time, the old config serving until the new one is whole.

        A request made while a reload runs waits for it, then all such requests share the
        next one: it reads the files as they are now, and waiting is bounded by two loads.
        """
        asked = self._loads_started
        async with self._reload_lock:
            if self._loads_started > asked:  # a load began after this request and has ended
                return self._last_reload
            self._loads_started += 1
            self._last_reload = await self._reload_now()
            return self._last_reload

    async def _reload_now(self) -> tuple[bool, str]:
        if self._abandoned_load is not None and self._abandoned_load.is_alive():
            error = "the previous load, abandoned past reload_timeout, is still running"
        else:
            try:
                async with asyncio.timeout(self._deadline):  # not wait_for: see Scheduler.run_once
                    loaded = await self._load_in_thread()
            except TimeoutError:
                self._abandoned_load = self._loading
                error = f"loading took more than reload_timeout ({self._deadline:g}s), abandoned"
            except ConfigError as err:
                error = str(err)
            except Exception as err:  # a bug or an exhausted resource: still a failed reload, not a crash
                log.debug("reload raised", exc_info=True)
                error = f"{self._sources()}: {type(err).__name__}: {shown(str(err))}"
            else:
                loaded.configure(self.snapshot)
                self._deadline = loaded.config.agent.reload_timeout
                await self.scheduler.start(loaded.collectors)
                self.snapshot.reloaded(True)
                log.info("reloaded", extra={"collectors": ",".join(loaded.collectors)})
                return True, "reloaded"
        log.error("reload rejected, the old config keeps serving", extra={"error": error})
        self.snapshot.reloaded(False)
        return False, f"reload rejected: {error}"

    def _sources(self) -> str:
        return " and ".join(str(p) for p in (self.config_path, self.inventory_path) if p) or "<embedded default>"

    def _load_in_thread(self) -> asyncio.Future:
        """Load in a daemon thread, so neither a slow load nor a hung read can stall the loop."""
        future, self._loading = in_daemon_thread(lambda: load(self.config_path, self.inventory_path), "reload")
        return future

    def _reload_from_thread(self) -> tuple[bool, str]:
        try:  # two loads at most: the running one and the one this request waits for
            return asyncio.run_coroutine_threadsafe(self.reload(), self._loop).result(timeout=2 * self._deadline + 10)
        except TimeoutError:
            return False, "reload rejected: no answer in time"

    def _reload_on_signal(self) -> None:
        task = asyncio.ensure_future(self.reload())
        self._signal_reloads.add(task)  # keep a reference until it is done
        task.add_done_callback(self._signal_reloads.discard)

    async def run(self, loaded: Loaded) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        settings = loaded.config.agent
        host, port = parse_listen(self.listen_override or settings.listen)
        web = load_web_config(settings.web_config_file)
        loaded.configure(self.snapshot)
        self._deadline = settings.reload_timeout
        await self.scheduler.start(loaded.collectors)  # before any reload can be asked for
        server = AgentHTTPServer((host, port), self.snapshot, web, self._reload_from_thread)
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(signum, self._stopping.set)
        self._loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        scheme = "https" if web.tls_server_config else "http"
        log.info("listening", extra={"address": f"{scheme}://{host}:{port}", "version": __version__,
                                     "config": loaded.config.source, "collectors": ",".join(loaded.collectors)})
        await self._stopping.wait()
        log.info("stopping")
        await self.scheduler.stop()
        server.shutdown()
        server.server_close()


def _few_malloc_arenas() -> None:
    """Two glibc malloc arenas instead of eight per CPU. Each load runs in a thread of its own
    and the blocking collectors in threads of theirs; each thread takes an arena, and what it
    leaves there (the loaded inventory outlives its thread) keeps the arena's pages from going
    back: RSS levelled off 10 MiB higher under reloads (benchmarks/soak.py). Not glibc (musl):
    nothing to do."""
    try:
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX, glibc's malloc.h; what MALLOC_ARENA_MAX=2 sets
    except (OSError, AttributeError):
        pass


def serve(config_path: str | None, inventory_path: str | None, listen: str | None) -> int:
    _few_malloc_arenas()  # before any thread exists
    loaded = load(config_path, inventory_path)  # bad input at start: the caller prints it and exits
    logs.setup(loaded.config.agent.log_level, loaded.config.agent.log_format)
    asyncio.run(Agent(config_path, inventory_path, listen).run(loaded))
    return 0
