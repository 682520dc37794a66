"""Signalling benchmarks: telepractice against a bare aiohttp relay (our stack's ceiling) and PeerJS server.

    .venv/bin/python bench/run.py            # or bench/run; --help for the options

Installs what it needs (npm ``peer`` into bench/node_modules), seeds a
telepractice data directory through the service functions, starts each
server itself on a free 127.0.0.1 port, drives it from several
load processes (bench/load.py), stops it by its PID, and prints medians over
the rounds with their spread. bench/README.md says what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
START_TIMEOUT = 60.0
# Saturation steps start at 4,000 msg/s and double: every system is measured at this rate, whatever its limit.
FIXED_RATE = 8000
# Bisection stops when the bracket is this narrow: at 15 % a system landed on 16,000 or 24,000 and its ratio to
# another on 0.67x or 1.0x from one noisy step; 7 % costs about three more 2-second steps a kind.
SATURATION_RESOLUTION = 0.07
# The functions that put one frame on the wire, as --count-calls names them: the direct write (telepractice's
# and the relay's) and aiohttp's writer (telepractice's queued path). On uvloop the socket send itself is
# libuv's, which Python's profiler does not see.
FRAME_WRITERS = {("signaling/frames.py", "text_frame"), ("_websocket/writer.py", "WebSocketWriter.send_frame")}


# --- installing ---------------------------------------------------------------------------


def install() -> None:
    """npm ``peer`` (locked) into bench/node_modules. uvloop, which the load client runs on too, comes with the
    package."""
    if not (BENCH / "node_modules" / "peer").is_dir():
        command = ["npm", "ci"] if (BENCH / "package-lock.json").exists() else ["npm", "install"]
        subprocess.run([*command, "--no-audit", "--no-fund"], cwd=BENCH, check=True)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:g} s")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


@dataclasses.dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(name: str, argv: list[str], env: dict[str, str], port: int, logs: Path) -> Server:
    log = logs / f"{name.replace(' ', '-')}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    server = Server(name, process, port, log)
    try:
        wait_port(port, process)
    except BaseException:
        server.stop()
        raise RuntimeError(f"{name} did not start: {log.read_text()[-1500:]}") from None
    return server


class Workers:
    """The load processes: one command to all of them at once, one answer from each."""

    def __init__(self, count: int, spec: dict) -> None:
        from load import worker_main

        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs, spec), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def each(self, command: str, args: list[dict], timeout: float = 300.0) -> list[dict]:
        for pipe, arg in zip(self.pipes, args):
            pipe.send((command, arg))
        results = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a load process did not answer '{command}' within {timeout:g} s")
            result = pipe.recv()
            if "exception" in result:
                raise RuntimeError(f"a load process failed in '{command}': {result['exception']}")
            results.append(result)
        return results

    def all(self, command: str, args: dict, timeout: float = 300.0) -> list[dict]:
        return self.each(command, [args] * len(self.pipes), timeout)

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("stop", {}))
            except OSError:
                pass
        for pipe in self.pipes:
            if pipe.poll(30):
                pipe.recv()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


# --- one system, one round ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options:
    rounds: int
    workers: int
    pairs: int
    light: int
    heavy: int
    idle_steps: tuple[int, ...]
    storm_rooms: int
    storm_size: int
    step_seconds: float
    latency_seconds: float
    max_rate: int
    idle_step_seconds: float = 90.0
    profile: bool = False
    server_gc_off: bool = False
    perf: bool = False
    count_calls: bool = False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Round:
    """Every figure of one system in one round, against one freshly started server."""

    def __init__(self, system: str, server: Server, workers: Workers, people: dict, options: Options) -> None:
        self.system, self.server, self.workers, self.people, self.options = system, server, workers, people, options
        self.figures: dict[str, float] = {}
        self.count_stops = 0

    def profiled(self, phase: str) -> contextlib.AbstractContextManager[None]:
        """The sampler the run asked for (--count-calls, --perf or --profile) around this phase, or none."""
        if self.options.count_calls:
            return self.calls_counted(phase)
        if self.options.perf:
            return self.perf_sampled(phase)
        if self.options.profile:
            return self.spied(phase)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def spied(self, phase: str):
        """py-spy samples the server through this phase (collapsed stacks): telepractice and, to compare where
        each spends a message's time, the bare relay (PeerJS is not Python)."""
        if self.system not in ("telepractice", "relay"):
            yield
            return
        out = RESULTS / f"profile-{self.system}-{phase}.txt"
        with sampler([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(self.server.pid),
                      "--format", "raw", "--rate", "1000", "--output", str(out), "--nonblocking"]):
            yield
        if out.exists():
            (RESULTS / f"profile-{self.system}-{phase}-top.txt").write_text(profile_summary(out.read_text()))

    @contextlib.contextmanager
    def calls_counted(self, phase: str):
        """With --count-calls, the server's function calls through this phase (bench/call_count.py), and per
        frame it sent: every relayed message leaves as one socket send, in both Python servers."""
        if self.system not in ("telepractice", "relay"):
            yield
            return
        os.kill(self.server.pid, signal.SIGUSR1)
        try:
            yield
        finally:
            os.kill(self.server.pid, signal.SIGUSR1)
            self.count_stops += 1
            counted = RESULTS / f"calls-{self.system}.{self.count_stops}"
            deadline = time.monotonic() + 30
            while not counted.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # written whole by then: a few hundred lines
            rows = [line.split("\t") for line in counted.read_text().splitlines()]
            counted.unlink()
            sends = sum(int(n) for n, where, name in rows if (where, name) in FRAME_WRITERS)
            python = sum(int(n) for n, where, _ in rows if where != "C")
            lines = [f"{sends} frames sent; per frame: {sum(int(n) for n, _, _ in rows) / max(1, sends):.1f} calls, "
                     f"{python / max(1, sends):.1f} of them to Python functions", ""]
            lines += [f"{int(n) / max(1, sends):8.2f}  {where}  {name}" for n, where, name in rows[:80]]
            (RESULTS / f"calls-{self.system}-{phase}.txt").write_text("\n".join(lines) + "\n")
            if phase.endswith(f"-at-{FIXED_RATE}"):
                self.figures[f"{phase.split('-')[0]} Python calls per frame sent"] = python / max(1, sends)

    @contextlib.contextmanager
    def perf_sampled(self, phase: str):
        """With --perf, Linux perf samples the server's CPU (kernel, C and the interpreter, which py-spy does not
        split) through this phase; the summary is the share of samples per library and per function."""
        data = RESULTS / f"perf-{self.system}-{phase}.data"
        with sampler(["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", str(self.server.pid), "-o", str(data)]):
            yield
        if data.exists():
            report = [subprocess.run(["perf", "report", "-i", str(data), "--sort", keys, "--stdio", "--percent-limit",
                                      "0.5"], capture_output=True, text=True, timeout=300).stdout
                      for keys in ("dso", "dso,sym")]
            (RESULTS / f"perf-{self.system}-{phase}-top.txt").write_text("\n".join(report))
            data.unlink()

    def measure(self, command: str, args: list[dict], timeout: float = 300.0) -> tuple[list[dict], float, float, float]:
        """Run a command; its answers, the wall time, the server's and the load client's CPU seconds."""
        server_cpu, client_cpu, began = cpu_seconds(self.server.pid), self.workers.cpu(), time.monotonic()
        results = self.workers.each(command, args, timeout)
        return (results, time.monotonic() - began, cpu_seconds(self.server.pid) - server_cpu,
                self.workers.cpu() - client_cpu)

    def run(self) -> dict[str, float]:
        o = self.options
        pairs = split(self.people["pairs"], o.workers)
        connected = self.workers.each("connect_pairs", [{"group": "pairs", "pairs": p, "concurrency": 50} for p in pairs])
        self.figures["pairs in the call"] = sum(r["ready"] for r in connected)
        self.quiet_cost()
        for kind, size in (("offer", 4096), ("candidate", 200)):
            for label, rate in (("light", o.light), ("heavy", o.heavy)):
                self.latency(kind, size, label, rate)
        for kind, size in (("offer", 4096), ("candidate", 200)):
            self.saturation(kind, size)
        self.workers.all("close_group", {"group": "pairs"})
        time.sleep(1.0)
        self.storm()  # before the idle connections, so it never meets the server still closing thousands
        time.sleep(1.0)
        self.idle()
        return self.figures

    def quiet_cost(self, seconds: float = 5.0) -> None:
        """What the server spends holding the pairs' connections while nobody sends: a share of every later step."""
        time.sleep(1.0)  # the joins' own work (attendance, reports) settles first
        before = cpu_seconds(self.server.pid)
        time.sleep(seconds)
        self.figures["pairs quiet server CPU %"] = 100 * (cpu_seconds(self.server.pid) - before) / seconds

    def timed_load(self, mode: str, senders: str, kind: str, size: int, rate: float, seconds: float):
        start_at = time.monotonic() + 0.3
        args = {"group": "pairs", "senders": senders, "kind": kind, "size": size, "rate": rate / o_workers(self),
                "start_at": start_at, "duration": seconds, "warmup": 0.5, "mode": mode}
        server_cpu, client_cpu = cpu_seconds(self.server.pid), self.workers.cpu()
        results = self.workers.all("load", args, timeout=seconds + 60)
        # CPU over the whole command (warm-up and tail included), as a share of one core over the same span.
        span = 0.3 + 0.5 + seconds + 0.5
        latencies = [x for r in results for x in r["latencies"]]
        return {
            "sent": sum(r["sent"] for r in results), "received": sum(r["received"] for r in results),
            "latencies": latencies,
            "server_cpu": (cpu_seconds(self.server.pid) - server_cpu) / span,
            "client_cpu": (self.workers.cpu() - client_cpu) / span,
            "errors": [e for r in results for e in r["errors"]],
        }

    def latency(self, kind: str, size: int, label: str, rate: int) -> None:
        result = self.timed_load("rtt", "a", kind, size, rate, self.options.latency_seconds)
        name = f"rtt {kind} {label}"
        self.figures[f"{name} p50 ms"] = percentile(result["latencies"], 0.50) * 1000
        self.figures[f"{name} p99 ms"] = percentile(result["latencies"], 0.99) * 1000
        self.figures[f"{name} answered %"] = 100.0 * result["received"] / max(1, result["sent"])
        self.figures[f"{name} load-client CPU %"] = 100 * result["client_cpu"]

    def saturation(self, kind: str, size: int) -> None:
        """Offered rate doubled until p99 > 50 ms or under 95 % delivered, then bisected to within 7 %."""
        o = self.options
        good: dict[str, float] | None = None
        low, high, rate = 0.0, None, 4000.0
        fixed = float("nan")
        for _ in range(9):
            # Profiled at the one rate every system is offered, so the profiles compare message for message.
            with self.profiled(f"{kind}-at-{FIXED_RATE}") if rate == FIXED_RATE else contextlib.nullcontext():
                result = self.timed_load("oneway", "all", kind, size, rate, o.step_seconds)
            delivered = result["received"] / o.step_seconds
            p99 = percentile(result["latencies"], 0.99) * 1000
            if result["errors"]:
                print(f"    {self.system} at {rate:,.0f} msg/s: {result['errors'][0]}", flush=True)
            ok = p99 <= 50 and result["received"] >= 0.95 * result["sent"] and not result["errors"]
            print(f"    {self.system} {kind} at {rate:,.0f} msg/s offered: {delivered:,.0f} delivered "
                  f"({result['received'] / max(1, result['sent']):.1%}), p99 {p99:.1f} ms, "
                  f"server CPU {100 * result['server_cpu']:.0f} %, load client {100 * result['client_cpu']:.0f} %"
                  f"{'' if ok else ' (over)'}", flush=True)
            if rate == FIXED_RATE and delivered:
                fixed = 1e6 * result["server_cpu"] / delivered
            if ok and (good is None or delivered > good["rate"]):
                good = {"rate": delivered, "p99": p99, "server_cpu": result["server_cpu"],
                        "client_cpu": result["client_cpu"]}
            if ok:
                low = rate
            else:
                high = rate
            if high is None:
                if rate >= o.max_rate:
                    break
                rate = min(rate * 2, o.max_rate)
            elif high - low <= max(1000.0, SATURATION_RESOLUTION * high):
                break
            else:
                rate = (low + high) / 2
        name = f"saturation {kind}"
        good = good or {"rate": 0.0, "p99": float("nan"), "server_cpu": 0.0, "client_cpu": 0.0}
        self.figures[f"{name} msg/s"] = good["rate"]
        self.figures[f"{name} server CPU %"] = 100 * good["server_cpu"]
        self.figures[f"{name} server µs/msg"] = 1e6 * good["server_cpu"] / good["rate"] if good["rate"] else float("nan")
        # The same offered rate for every system: cost per message without the saturation point's noise.
        self.figures[f"{name} server µs/msg at {FIXED_RATE:,}/s"] = fixed
        self.figures[f"{name} load-client CPU %"] = 100 * good["client_cpu"]
        self.figures[f"{name} reached max offered"] = 1.0 if high is None else 0.0

    def idle(self) -> None:
        o = self.options
        idle = self.people["idle"]
        base = rss_bytes(self.server.pid)
        held = 0
        total = 0
        for target in o.idle_steps:
            batch = idle[held:target]
            with self.profiled(f"idle-{target}"):
                results, seconds, _, _ = self.measure("connect", [
                    {"group": "idle", "people": p, "concurrency": 100, "seconds": o.idle_step_seconds}
                    for p in split(batch, o.workers)])
            opened = len(batch) - sum(r["failures"] for r in results)
            held, total = target, total + opened
            time.sleep(1.0)
            self.figures[f"idle {target} held"] = total
            self.figures[f"idle {target} KB/conn"] = (rss_bytes(self.server.pid) - base) / max(1, total) / 1024
            self.figures[f"idle {target} connects/s"] = opened / seconds
        with self.profiled(f"idle-{held}-hold"):
            before, began = cpu_seconds(self.server.pid), time.monotonic()
            time.sleep(5.0)
        self.figures[f"idle {held} step server CPU %"] = 100 * (cpu_seconds(self.server.pid) - before) / (time.monotonic() - began)
        self.workers.all("close_group", {"group": "idle"}, timeout=120)
        time.sleep(1.0)

    def storm(self) -> None:
        rooms = self.people["storm"]
        start_at = time.monotonic() + 0.5
        with self.profiled("storm"):
            results = self.workers.each("storm", [{"rooms": r, "start_at": start_at, "size": self.options.storm_size}
                                                  for r in split(rooms, self.options.workers)], timeout=120)
        self.figures["storm all done s"] = max(r["seconds"] for r in results)
        self.figures["storm failures"] = sum(r["failures"] for r in results)
        self.workers.all("close_group", {"group": "storm"})


@contextlib.contextmanager
def sampler(argv: list[str]):
    """A profiler attached to the server for the span of the block, stopped as it asks (SIGINT) so it writes out."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the phase begins
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def profile_summary(raw: str, top: int = 40) -> str:
    """py-spy's collapsed stacks as the functions with most samples: inclusive (anywhere on the stack) and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")" for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples", "", "inclusive %  function"]
    lines += [f"{100 * n / total:10.1f}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self %  function"] + [f"{100 * n / total:6.1f}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def o_workers(round_: Round) -> int:
    return round_.options.workers


# --- who connects, per system ----------------------------------------------------------------------


def relay_people(options: Options, round_no: int, total_idle: int) -> dict:
    pairs = [({"id": f"a{i}", "partner": f"b{i}", "session": f"pair{i}", "side": "a"},
              {"id": f"b{i}", "partner": f"a{i}", "session": f"pair{i}", "side": "b"}) for i in range(options.pairs)]
    idle = [{"id": f"idle{i}", "session": f"idle{i}"} for i in range(total_idle)]
    storm = [[{"id": f"s{round_no}r{r}p{k}", "session": f"storm{round_no}-{r}",
               **({"host_id": f"s{round_no}r{r}p0"} if k else {})} for k in range(4)]
             for r in range(options.storm_rooms)]
    return {"pairs": pairs, "idle": idle, "storm": storm}


def telepractice_people(seeded: dict, options: Options, round_no: int, total_idle: int) -> dict:
    worker, token = seeded["worker_id"], seeded["worker_token"]
    pairs = []
    for pair in seeded["pairs"][:options.pairs]:
        family = pair["family"][0]
        pairs.append(({"id": worker, "partner": family["id"], "session": pair["session"], "token": token,
                       "staff": True, "side": "a"},
                      {"id": family["id"], "partner": worker, "session": pair["session"], "token": family["token"],
                       "side": "b"}))
    idle = [{"id": worker, "session": s, "token": token, "staff": True} for s in seeded["idle"][:total_idle]]
    storm = [[{"id": worker, "session": room["session"], "token": token, "staff": True},
              *({"id": f["id"], "session": room["session"], "token": f["token"], "host_id": worker}
                for f in room["family"])]
             for room in seeded["storms"][round_no]]
    return {"pairs": pairs, "idle": idle, "storm": storm}


# --- the run ---------------------------------------------------------------------------------------------


def telepractice_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEPRACTICE_")}
    env.update({
        "TELEPRACTICE_DATA_DIR": str(data_dir), "TELEPRACTICE_HOST": "127.0.0.1", "TELEPRACTICE_PORT": str(port),
        # Plain HTTP like the other two (TLS is a proxy's work in production too, or costs all three the same).
        "TELEPRACTICE_BEHIND_PROXY": "true", "TELEPRACTICE_PUBLIC_ORIGIN": f"http://localhost:{port}",
        "TELEPRACTICE_ACCESS_TOKEN_MINUTES": "60", "TELEPRACTICE_STAFF_IDLE_MINUTES": "480",
        "TELEPRACTICE_STAFF_SESSION_HOURS": "24",
    })
    return env


def seed_telepractice(data_dir: Path, options: Options, port: int) -> dict:
    from seed import Plan, seed
    from telepractice.config import load_settings

    settings = load_settings(telepractice_env(data_dir, port))
    plan = Plan(pairs=options.pairs, storm_rounds=options.rounds, storm_rooms=options.storm_rooms, storm_family=3,
                idle=max(options.idle_steps))
    return asyncio.run(seed(settings, plan, data_dir / "bench-tokens.json"))


def run_round(system: str, round_no: int, options: Options, work: Path, python: str, seeded: dict | None,
              telepractice_port: int) -> dict:
    """One round of one system: its server started afresh, driven, stopped by its PID."""
    total_idle = max(options.idle_steps)
    if system == "telepractice":
        port = telepractice_port  # the seeded public origin names this port
        argv = [python, "-m", "telepractice", "serve"]
        if options.count_calls:
            argv = [python, str(BENCH / "call_count.py"), str(RESULTS / "calls-telepractice"), "telepractice"]
        if options.server_gc_off:  # an experiment: how much of telepractice's cost is the cyclic collector
            argv = [python, "-c", "import gc, runpy, sys; gc.disable(); sys.argv = ['telepractice', 'serve']; "
                                  "runpy.run_module('telepractice', run_name='__main__')"]
        server = start(system, argv, telepractice_env(work / "data", port), port, work)
        spec = {"system": system, "port": port, "origin": f"http://localhost:{port}"}
        people = telepractice_people(seeded, options, round_no, total_idle)
    elif system == "relay":
        port = free_port()
        argv = [python, str(BENCH / "bare_relay.py"), str(port)]
        if options.count_calls:
            argv = [python, str(BENCH / "call_count.py"), str(RESULTS / "calls-relay"), *argv[1:]]
        server = start("bare relay", argv, dict(os.environ), port, work)
        spec = {"system": system, "port": port}
        people = relay_people(options, round_no, total_idle)
    else:
        port = free_port()
        server = start("PeerJS", ["node", str(BENCH / "peerjs_server.js"), str(port)], dict(os.environ), port, work)
        spec = {"system": system, "port": port}
        people = relay_people(options, round_no, total_idle)
    workers = Workers(options.workers, spec)
    try:
        began = time.monotonic()
        figures = Round(system, server, workers, people, options).run()
        figures["server RSS at end MB"] = rss_bytes(server.pid) / 2**20
        figures["machine load average"] = os.getloadavg()[0]
        print(f"  {system} round {round_no + 1}: {time.monotonic() - began:.0f} s, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        return figures
    finally:
        workers.stop()
        server.stop()


def run_systems(systems: list[str], options: Options, work: Path, python: str, seeded: dict | None,
                telepractice_port: int) -> dict[str, list[dict]]:
    """Every round of every system, the systems taking turns within each round.

    This machine's speed drifts over minutes (other tenants of the host): rounds run system by system
    would give each system a different machine, and the ratios would measure the drift.
    """
    per_system: dict[str, list[dict]] = {system: [] for system in systems}
    for round_no in range(options.rounds):
        for system in systems:
            per_system[system].append(run_round(system, round_no, options, work, python, seeded, telepractice_port))
    return per_system


def summarize(per_system: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for system, rounds in per_system.items():
        for name in rounds[0]:
            values = [r[name] for r in rounds if name in r]
            summary.setdefault(name, {})[system] = {
                "median": statistics.median(values), "min": min(values), "max": max(values)}
    return summary


def shown(value: float) -> str:
    if value != value:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(summary: dict, systems: list[str]) -> str:
    head = ["figure", *[{"relay": "bare relay", "peerjs": "PeerJS"}.get(s, s) for s in systems]]
    ratios = [s for s in ("relay", "peerjs") if s in systems and "telepractice" in systems]
    head += [f"tp/{'relay' if s == 'relay' else 'PeerJS'}" for s in ratios]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, by_system in summary.items():
        cells = [name]
        for system in systems:
            v = by_system.get(system)
            cells.append("" if v is None else
                         shown(v["median"]) + ("" if v["min"] == v["max"] else f" ({shown(v['min'])}–{shown(v['max'])})"))
        tp = by_system.get("telepractice")
        for system in ratios:
            other = by_system.get(system)
            ok = tp and other and other["median"] and other["median"] == other["median"]
            cells.append(f"{tp['median'] / other['median']:.2f}×" if ok else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers and load processes
    return hard


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="load processes")
    p.add_argument("--systems", default="relay,peerjs,telepractice")
    p.add_argument("--quick", action="store_true", help="a short smoke run: 1 round, small counts")
    p.add_argument("--skip-signalling", action="store_true")
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--skip-database", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    p.add_argument("--profile", action="store_true", help="py-spy both Python servers: bench/results/profile-*")
    p.add_argument("--perf", action="store_true",
                   help="sample every server with Linux perf instead (kernel and C too): bench/results/perf-*")
    p.add_argument("--count-calls", action="store_true",
                   help="count the Python servers' function calls per frame instead: bench/results/calls-*")
    p.add_argument("--experiment-gc-off", action="store_true",
                   help="run telepractice with the cyclic garbage collector disabled (to measure its share)")
    p.add_argument("--idle", default="", help="idle connection steps, e.g. 1000,5000,10000")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    python = sys.executable
    install()
    hard = raise_fd_limit()
    if args.quick:
        options = Options(rounds=1, workers=args.workers, pairs=100, light=200, heavy=2000, idle_steps=(200, 500),
                          storm_rooms=25, storm_size=4096, step_seconds=1.0, latency_seconds=1.0, max_rate=8000)
    else:
        options = Options(rounds=args.rounds, workers=args.workers, pairs=500, light=200, heavy=2000,
                          idle_steps=(1000, 5000, 10000), storm_rooms=125, storm_size=4096, step_seconds=2.0,
                          latency_seconds=2.5, max_rate=45000, idle_step_seconds=30.0)
    if args.idle:
        options = dataclasses.replace(options, idle_steps=tuple(int(x) for x in args.idle.split(",")))
    options = dataclasses.replace(options, profile=args.profile, perf=args.perf, count_calls=args.count_calls,
                                  server_gc_off=args.experiment_gc_off)
    if max(options.idle_steps) + 200 > hard:
        print(f"warning: the open-files limit is {hard}; idle connections may fail", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="telepractice-bench-"))
    stamp = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {"date": stamp.isoformat(timespec="seconds"), "options": dataclasses.asdict(options),
                              "machine": machine()}
    print(f"telepractice benchmarks, {stamp:%Y-%m-%d %H:%M} UTC, {report['machine']}", flush=True)
    began = time.monotonic()
    try:
        if not args.skip_signalling:
            systems = [s for s in args.systems.split(",") if s]
            port = free_port()
            seeded = None
            if "telepractice" in systems:
                seeded = seed_telepractice(work / "data", options, port)
                print(f"seeded telepractice in {seeded['seconds']} s", flush=True)
            per_system = run_systems(systems, options, work, python, seeded, port)
            report["signalling"] = summarize(per_system)
            report["signalling_rounds"] = per_system
            print("\n" + table(report["signalling"], systems), flush=True)
        if not args.skip_browser:
            from video import measure_video
            from slow_link import measure_slow_link
            report["video"] = measure_video(options.rounds, work) | measure_slow_link(options.rounds, work)
            print("\n" + table(report["video"], ["telepractice"]), flush=True)
        if not args.skip_database:
            from database import measure_database
            report["database"] = measure_database(options.rounds, work, quick=args.quick)
            print("\n" + table(report["database"], list(next(iter(report["database"].values())).keys())), flush=True)
    finally:
        report["seconds"] = round(time.monotonic() - began)
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=1, default=str))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    (RESULTS / "latest.md").write_text(markdown(report))
    print(f"\ndone in {report['seconds']} s; figures in {RESULTS / 'latest.json'} and latest.md")
    return 0


def markdown(report: dict) -> str:
    """Every table of a report, for bench/README.md."""
    parts = [f"Measured {report['date']} on {report['machine']}, in {report.get('seconds', '?')} s."]
    if "signalling" in report:
        systems = list(report["signalling_rounds"])
        parts.append(table(report["signalling"], systems))
    if report.get("video"):
        parts.append(table(report["video"], ["telepractice"]))
    if report.get("database"):
        parts.append(table(report["database"], list(next(iter(report["database"].values())).keys())))
    return "\n\n".join(parts) + "\n"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}"


if __name__ == "__main__":
    sys.exit(main())
