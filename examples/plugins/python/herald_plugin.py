"""Herald agent plugins in Python.

A Herald host (plugins.Manager in Go, or the example server's "plugins"
config) runs a plugin as a child process and talks to it over gRPC with
HashiCorp go-plugin's handshake. This module is the plugin's side of that
protocol for agents written in Python, the counterpart of the Go package's
plugins.Serve: write a function, hand it to serve(), and the rest (the magic
cookie, the handshake line, the health and shutdown services, the run
stream, cancellation, error codes, and exiting with the host) is done here.

    #!/usr/bin/python3
    import herald_plugin

    def shout(ctx, task):
        "Shouts the payload back."
        return herald_plugin.Result(summary=task.payload.decode().upper())

    herald_plugin.serve({"shout": shout})

An agent is called as agent(ctx, task) in a thread of its own, once per
attempt, possibly for several attempts at once. It returns a Result (or
None), or raises:

  - Permanent: retrying cannot help (agent.Permanent); the run fails now.
  - RetryAfter(seconds, message): retry no sooner than that (agent.RetryAfter).
    Any exception with a retry_after attribute (seconds) is treated alike.
  - Cancelled, from ctx.check() or ctx.sleep(): the host cancelled the run or
    its deadline passed.
  - anything else: an ordinary failure, retried with backoff; its traceback is
    logged.

task.progress({"lines": 3}) reports progress counters to the host; each report
replaces the previous one. Long work should call ctx.check() or ctx.sleep()
often, so that a cancelled run stops promptly.

Log with the logging module: records go to stderr as go-plugin's JSON log
lines, and the host logs them, at their level, under the plugin's name.
stdout carries the handshake; after it, anything printed to stdout goes to
stderr too.

The generated protocol code lives in gen/ beside this file (see
generate.sh); both must be copied together. It needs python3-grpcio and
python3-protobuf (Debian bookworm: grpcio 1.51, protobuf 4.21).
"""

import dataclasses
import datetime
import json
import logging
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from concurrent import futures
from typing import Any, Callable, Dict, List, Mapping, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

from herald.health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from herald.plugin.v1 import plugin_pb2, plugin_pb2_grpc  # noqa: E402

# The version of Herald's plugin protocol this module speaks
# (plugins/proto/herald/plugin/v1/plugin.proto).
PROTOCOL_VERSION = 1

# go-plugin's own protocol version, the first field of the handshake line.
CORE_PROTOCOL_VERSION = 1

# The magic cookie a host sets in a plugin's environment. It is not a secret;
# it only tells the plugin that a host started it.
MAGIC_COOKIE_KEY = "HERALD_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "b3f6d2a4e1c9785f0a6d4c2e9b1f3a57"

# How often a served plugin checks that its host is alive, in seconds.
PARENT_POLL = 0.25

# How long in-flight calls get to finish once the host asks the plugin to
# shut down, in seconds; the host closes its connection right after asking,
# which cancels them anyway.
SHUTDOWN_GRACE = 1.0

# The threads serving gRPC calls: every run in progress holds one.
MAX_WORKERS = 64

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")

log = logging.getLogger("herald_plugin")


class Permanent(Exception):
    """The run failed, and retrying cannot help (agent.Permanent)."""


class RetryAfter(Exception):
    """The run failed; retry no sooner than retry_after seconds
    (agent.RetryAfter)."""

    def __init__(self, retry_after: float, message: str = ""):
        super().__init__(message or f"retry after {retry_after}s")
        self.retry_after = retry_after


class Cancelled(Exception):
    """The run's call ended: the host cancelled it, or its deadline passed."""

    def __init__(self, deadline_exceeded: bool):
        super().__init__("deadline exceeded" if deadline_exceeded else "run cancelled")
        self.deadline_exceeded = deadline_exceeded


@dataclasses.dataclass(frozen=True)
class Target:
    """A delivery target: a channel, and an address within it."""

    channel: str
    to: str = ""


@dataclasses.dataclass(frozen=True)
class Result:
    """What a successful attempt produced (agent.Result).

    output is the structured result: bytes or str holding JSON, or any value
    json.dumps accepts; None means none. summary is the readable result,
    delivered as the message text. targets are extra delivery targets for
    this run.
    """

    output: Any = None
    summary: str = ""
    targets: List[Target] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Event:
    """The webhook delivery that started a run."""

    id: str
    source: str
    delivery_id: str
    headers: Dict[str, List[str]]
    body: bytes
    received_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class Task:
    """One attempt of a run (agent.Task).

    payload is the run's JSON input, as bytes (b"" when there is none);
    trigger says how the run came to be ("schedule", "manual", "webhook" or
    "enqueue"); event is set for webhook runs only, scheduled_for for
    schedule runs only.
    """

    run_id: str
    owner: str
    agent: str
    schedule_id: str
    payload: bytes
    trigger: str
    scheduled_for: Optional[datetime.datetime]
    attempt: int
    max_attempts: int
    event: Optional[Event]
    progress: Callable[[Mapping[str, int]], None] = dataclasses.field(repr=False, compare=False)


class Context:
    """The context of one run: it ends when the host cancels the run, when
    the run's deadline passes, or when the host goes away."""

    def __init__(self, call: grpc.ServicerContext):
        self._call = call
        self._ended = threading.Event()

    def _end(self) -> None:
        self._ended.set()

    def done(self) -> bool:
        """Reports whether the run's call has ended."""
        return self._ended.is_set()

    def deadline_exceeded(self) -> bool:
        """Reports whether the run's deadline has passed."""
        left = self._call.time_remaining()
        return left is not None and left <= 0

    def time_remaining(self) -> Optional[float]:
        """Returns the seconds left before the run's deadline, or None when
        it has none."""
        return self._call.time_remaining()

    def check(self) -> None:
        """Raises Cancelled when the run's call has ended."""
        if self._ended.is_set():
            raise Cancelled(self.deadline_exceeded())

    def sleep(self, seconds: float) -> None:
        """Waits seconds, or raises Cancelled as soon as the run's call
        ends."""
        if self._ended.wait(max(seconds, 0)):
            raise Cancelled(self.deadline_exceeded())


Agent = Callable[[Context, Task], Optional[Result]]


def serve(agents: Mapping[str, Agent]) -> None:
    """Serves agents, by name, to the Herald host that started the process,
    and exits when the host stops the plugin or goes away.

    Run by hand, the plugin prints what it serves and how it is meant to be
    used, and exits with status 1; with the single argument -describe, it
    prints what it serves as JSON and exits with status 0. Bad agents (a bad
    name, not callable) are reported on stderr with status 2.
    """
    code = _serve(agents, sys.argv, os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    # Like a Go plugin's main returning: agents still running in their
    # threads do not hold the process up.
    os._exit(code)


def _serve(agents: Mapping[str, Agent], argv: List[str], env: Mapping[str, str]) -> int:
    self_name = os.path.basename(argv[0]) if argv else "plugin"
    problem = _check_agents(agents)
    if problem:
        print(f"herald plugin: {problem}", file=sys.stderr)
        return 2
    desc = _describe(agents)
    if argv[1:] in (["-describe"], ["--describe"]):
        print(json.dumps(desc, indent=2))
        return 0
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            f"{self_name} is a Herald plugin (protocol version {PROTOCOL_VERSION}). It is not meant to be run by hand:\n"
            "a Herald host starts it (see plugins.Config, or the plugins section of the example server's config).\n"
            f"It serves agents {[a['name'] for a in desc['agents']]}.\n"
            f"Run '{self_name} -describe' to print this as JSON.",
            file=sys.stderr,
        )
        return 1
    versions = env.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(PROTOCOL_VERSION) not in versions.split(","):
        print(
            f"{self_name}: the host speaks plugin protocol versions {versions}; this plugin speaks {PROTOCOL_VERSION}",
            file=sys.stderr,
        )
        return 1
    if env.get("PLUGIN_CLIENT_CERT"):
        print(
            f"{self_name}: the host asks for go-plugin's AutoMTLS, which this Python plugin does not implement; "
            "configure it with TLS: plugins.TLSOff (plugins not written in Go get that by default)",
            file=sys.stderr,
        )
        return 1
    _log_to_stderr()
    # go-plugin's plugins ignore SIGINT: a Ctrl-C at the host's terminal
    # reaches the whole process group, and the host stops its plugins itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    # A unix socket in a directory only this user can enter: without
    # AutoMTLS, the directory's permissions are what keep other local users
    # off the plugin.
    sock_dir = tempfile.mkdtemp(prefix="herald-plugin-", dir=env.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    try:

        def orphaned():
            shutil.rmtree(sock_dir, ignore_errors=True)
            os._exit(3)

        _watch_parent(os.getppid(), orphaned)
        sock = os.path.join(sock_dir, "plugin.sock")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="grpc"))
        health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
        plugin_pb2_grpc.add_PluginServiceServicer_to_server(_PluginService(desc), server)
        plugin_pb2_grpc.add_AgentServiceServicer_to_server(_AgentService(agents), server)
        server.add_generic_rpc_handlers((_controller(stop),))
        if server.add_insecure_port("unix:" + sock) == 0:
            print(f"{self_name}: cannot listen on {sock}", file=sys.stderr)
            return 1
        server.start()
        # The handshake: go-plugin's core protocol version, Herald's plugin
        # protocol version, where to dial, and the protocol.
        print(f"{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|unix|{sock}|grpc", flush=True)
        # From here on stdout is the host's no more: send it to stderr, so
        # that a stray print ends up in the host's log instead of nowhere.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        log.debug("serving agents %s on %s", sorted(agents), sock)
        stop.wait()
        log.debug("shutting down")
        server.stop(SHUTDOWN_GRACE).wait()
        return 0
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def _check_agents(agents: Mapping[str, Agent]) -> str:
    """Returns what is wrong with agents, or ""."""
    if not agents:
        return "serve() was given no agent"
    for name, fn in agents.items():
        if not isinstance(name, str) or not _NAME.match(name):
            return f"agent name {name!r} must match {_NAME.pattern}"
        if not callable(fn):
            return f"agent {name!r} is not callable"
    return ""


def _describe(agents: Mapping[str, Agent]) -> dict:
    """Returns what the plugin serves, as -describe prints it: each agent
    with the first line of its docstring as its description."""
    out = []
    for name in sorted(agents):
        doc = (getattr(agents[name], "__doc__", None) or "").strip()
        c = {"name": name}
        if doc:
            c["description"] = doc.splitlines()[0].strip()
        out.append(c)
    return {"protocol_version": PROTOCOL_VERSION, "agents": out, "deliverers": []}


def _watch_parent(ppid: int, exit_now: Callable[[], Any]) -> None:
    """Calls exit_now once the process's parent is no longer ppid: the host
    died and the process was re-parented. Does nothing when ppid is 1."""
    if ppid <= 1:
        return

    def watch():
        never = threading.Event()
        while not never.wait(PARENT_POLL):
            if os.getppid() != ppid:
                exit_now()
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Health(health_pb2_grpc.HealthServicer):
    """gRPC's health service: go-plugin's host checks the service "plugin"."""

    def Check(self, request, context):
        if request.service not in ("", "plugin"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def _controller(stop: threading.Event) -> grpc.GenericRpcHandler:
    """go-plugin's controller service, plugin.GRPCController: the host calls
    Shutdown when it stops the plugin, and kills it two seconds later if it
    has not exited. Its plugin.Empty messages have no fields, exactly like
    google.protobuf.Empty, so they share its encoding."""

    def shutdown(request, context):
        log.debug("the host asked the plugin to shut down")
        stop.set()
        return empty_pb2.Empty()

    return grpc.method_handlers_generic_handler(
        "plugin.GRPCController",
        {
            "Shutdown": grpc.unary_unary_rpc_method_handler(
                shutdown,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )


class _PluginService(plugin_pb2_grpc.PluginServiceServicer):
    """Says what the plugin serves."""

    def __init__(self, desc: dict):
        self._resp = plugin_pb2.DescribeResponse(
            protocol_version=desc["protocol_version"],
            agents=[plugin_pb2.Component(name=a["name"], description=a.get("description", "")) for a in desc["agents"]],
        )

    def Describe(self, request, context):
        return self._resp


class _AgentService(plugin_pb2_grpc.AgentServiceServicer):
    """Runs the agents: each attempt in a thread of its own, its progress
    and then its result or error streamed back."""

    def __init__(self, agents: Mapping[str, Agent]):
        self._agents = dict(agents)

    def Run(self, request, context):
        fn = self._agents.get(request.agent)
        if fn is None:
            yield _error_event(plugin_pb2.ERROR_CODE_PERMANENT, f"plugin does not serve agent {request.agent!r}")
            return
        ctx = Context(context)
        # The stream's events, and None once the call has ended (cancelled,
        # deadline passed, connection gone): then nobody reads them anymore.
        events: "queue.SimpleQueue[Optional[plugin_pb2.RunEvent]]" = queue.SimpleQueue()

        def ended():
            ctx._end()
            events.put(None)

        if not context.add_callback(ended):
            return
        returned = threading.Event()

        def report(counters: Mapping[str, int]) -> None:
            if returned.is_set():
                raise RuntimeError("progress reported after the run returned")
            ctx.check()
            events.put(plugin_pb2.RunEvent(progress=plugin_pb2.Progress(counters={str(k): int(v) for k, v in counters.items()})))

        task = _task_from_pb(request.task, report)

        def work():
            try:
                ev = _result_event(fn(ctx, task))
            except BaseException as e:  # noqa: B902 — every failure goes back to the host
                ev = _exception_event(request.agent, e)
            returned.set()
            events.put(ev)

        threading.Thread(target=work, name=f"agent {request.agent}", daemon=True).start()
        while True:
            ev = events.get()
            if ev is None:
                return
            yield ev
            if ev.WhichOneof("event") != "progress":
                return


def _task_from_pb(t: plugin_pb2.Task, report: Callable[[Mapping[str, int]], None]) -> Task:
    ev = None
    if t.HasField("event"):
        e = t.event
        ev = Event(
            id=e.id,
            source=e.source,
            delivery_id=e.delivery_id,
            headers={k: list(v.values) for k, v in e.headers.items()},
            body=bytes(e.body),
            received_at=_time(e, "received_at"),
        )
    return Task(
        run_id=t.run_id,
        owner=t.owner,
        agent=t.agent,
        schedule_id=t.schedule_id,
        payload=bytes(t.payload),
        trigger=t.trigger,
        scheduled_for=_time(t, "scheduled_for"),
        attempt=t.attempt,
        max_attempts=t.max_attempts,
        event=ev,
        progress=report,
    )


def _time(msg, field: str) -> Optional[datetime.datetime]:
    if not msg.HasField(field):
        return None
    return getattr(msg, field).ToDatetime(tzinfo=datetime.timezone.utc)


def _result_event(res: Optional[Result]) -> plugin_pb2.RunEvent:
    if res is None:
        res = Result()
    if not isinstance(res, Result):
        raise TypeError(f"the agent returned {type(res).__name__}, want herald_plugin.Result or None")
    out = res.output
    if out is None:
        out = b""
    elif isinstance(out, str):
        out = out.encode()
    elif not isinstance(out, (bytes, bytearray)):
        out = json.dumps(out).encode()
    return plugin_pb2.RunEvent(
        result=plugin_pb2.Result(
            output=bytes(out),
            summary=res.summary,
            targets=[plugin_pb2.Target(channel=t.channel, to=t.to) for t in res.targets],
        )
    )


def _exception_event(agent: str, e: BaseException) -> plugin_pb2.RunEvent:
    """Returns the wire form of the exception an agent raised."""
    if isinstance(e, Permanent):
        code, msg = plugin_pb2.ERROR_CODE_PERMANENT, str(e)
    elif isinstance(e, Cancelled):
        code = plugin_pb2.ERROR_CODE_DEADLINE_EXCEEDED if e.deadline_exceeded else plugin_pb2.ERROR_CODE_CANCELED
        msg = str(e)
    elif isinstance(e, Exception):
        code, msg = plugin_pb2.ERROR_CODE_TRANSIENT, str(e)
        if not isinstance(e, RetryAfter):
            msg = f"{type(e).__name__}: {e}" if msg else type(e).__name__
            log.error("agent %r raised %s", agent, type(e).__name__, exc_info=e)
    else:  # SystemExit, KeyboardInterrupt: a failure of the plugin itself
        code, msg = plugin_pb2.ERROR_CODE_INTERNAL, f"agent {agent!r} raised {type(e).__name__}: {e}"
    ev = _error_event(code, msg or type(e).__name__)
    delay = getattr(e, "retry_after", None)
    if delay is not None:
        ev.error.retry_after.FromNanoseconds(round(float(delay) * 1e9))
    return ev


def _error_event(code: int, message: str) -> plugin_pb2.RunEvent:
    return plugin_pb2.RunEvent(error=plugin_pb2.Error(code=code, message=message))


class _HCLogFormatter(logging.Formatter):
    """Formats records as go-plugin's JSON log lines, which the host
    re-logs at their level."""

    _LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "@level": self._LEVELS.get(record.levelno, "error" if record.levelno > logging.WARNING else "trace"),
            "@message": record.getMessage(),
            "@module": record.name,
            "@timestamp": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        }
        if record.exc_info:
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line)


def _log_to_stderr() -> None:
    """Sends the logging module's records to stderr as go-plugin log lines,
    unless the plugin configured logging itself."""
    root = logging.getLogger()
    if root.handlers:
        return
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(_HCLogFormatter())
    root.addHandler(h)
    root.setLevel(logging.DEBUG)
