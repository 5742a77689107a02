"""A real two-node Ray cluster on this machine: a node lost mid-search, then the head lost.

Each node is its own ``ray start --block`` process (so each is killed on its own), with one CPU,
its own ports and a private ``--temp-dir``; the nodes' addresses are loopback ones (Ray's servers
still listen on every interface, as Ray does). Searches run as the CLI does (``keras-taylorglo
search``) with ``execution.ray_address`` pointing at the head, on a deterministic fitness, and
are compared with the local pool's undisturbed search.

Nothing here calls ``ray stop``: it kills every Ray process of this machine, and another test
(or a person) may be using Ray at the same time. Each node's processes are found from its
``ray start`` process (Ray's worker processes get process groups of their own) and killed by id.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from cli_helpers import cli, cli_in_process, cmdline, spawn, wait_for
from cli_helpers import status as status_json
from store_query import query

# Each node's processes are found in /proc.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HERE = Path(__file__).parent
RAY = str(Path(sys.executable).with_name("ray"))

# A loopback address (all of 127/8 is on `lo`) that Ray takes as given: it replaces 127.0.0.1 and
# "localhost" by the machine's outward address, which would put the nodes on the network.
IP = "127.0.0.2"
# The cluster's own token: without RAY_AUTH_MODE, each `ray start` (and driver) reads
# ~/.ray/auth_token, which a local `ray.init()` elsewhere on this machine may rewrite meanwhile.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}
# The head declares a killed node dead after ~1.5 s (three missed health checks, 0.5 s apart)
# rather than after Ray's default budget of several seconds.
FAST_HEALTH_ENV = {
    "RAY_health_check_initial_delay_ms": "500",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
# Each attempt takes this long (seconds), so that a node can be killed while one runs on it (the
# test looks every 20 ms; the 18 attempts of a search are most of its time on 2 one-CPU actors).
FITNESS_SLEEP = "0.3"

RECIPE = """
[experiment]
name = "cluster"
seed = 5

[evolution]
population = 6
generations = 3
sigma = 1.2

[evaluation]
fitness = "fitness_fns:sphere"
rule = "paper"
attempts = 3

[execution]
executor = "{executor}"
devices = "cpu"
workers = 2
ray_address = "{address}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_ports() -> list[str]:
    """Ports a node would otherwise take from fixed defaults (two nodes here would collide)."""
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        "--min-worker-port=0",  # workers bind ports the system picks
        "--max-worker-port=0",
    ]


class Node:
    """One ``ray start --block`` process and everything it started."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [RAY, "start", "--block", *args],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.known: set[int] = set()

    def wait_started(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while "Ray runtime started" not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.2)

    def processes(self) -> list[int]:
        """The ``ray start`` process and its descendants (raylet, agents, worker processes)."""
        found = [self.proc.pid] if self.proc.poll() is None else []
        children = _children_by_parent()
        for pid in found:  # grows while it is read: breadth first
            found.extend(children.get(pid, []))
        self.known.update(found)
        return found

    def busy_evaluating(self) -> bool:
        """A worker actor of this node is inside ``evaluate`` (Ray titles the process so)."""
        return any(b"RayWorker.evaluate" in cmdline(pid) for pid in self.processes())

    def kill(self) -> None:
        """SIGKILL the node: its ``ray start``, raylet, agents and worker processes."""
        for pid in [*reversed(self.processes()), *self.known]:  # known: re-parented since
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait(30)


def _children_by_parent() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc (Linux; psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state"
        children.setdefault(ppid, []).append(int(entry.name))
    return children


class Cluster:
    """A head node and extra nodes on this machine, each with its own CPU and ports."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        # A short path: Ray's unix sockets live under it (at most ~107 bytes).
        self.temp = Path(tempfile.mkdtemp(prefix="ktgray", dir="/tmp"))
        self.root = root
        self.port = port or free_port()
        self.address = f"{IP}:{self.port}"
        self.env = {
            **os.environ,
            **RAY_ENV,
            **FAST_HEALTH_ENV,
            "TG_FITNESS_SLEEP": FITNESS_SLEEP,
        }
        self.nodes: list[Node] = []

    def start_head(self, num_cpus: int = 1) -> Node:
        args = [
            "--head",
            f"--port={self.port}",
            f"--num-cpus={num_cpus}",
            f"--node-ip-address={IP}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
            "--include-log-monitor=false",
            "--disable-usage-stats",
            f"--temp-dir={self.temp}",
            *node_ports(),
        ]
        return self._start(args)

    def add_node(self, num_cpus: int = 1) -> Node:
        args = [
            f"--address={self.address}",
            f"--num-cpus={num_cpus}",
            f"--node-ip-address={IP}",
            "--include-log-monitor=false",
            f"--temp-dir={self.temp}",
            *node_ports(),
        ]
        return self._start(args)

    def _start(self, args: list[str]) -> Node:
        node = Node(args, self.root / f"node{len(self.nodes)}.log", self.env)
        self.nodes.append(node)
        node.wait_started()
        return node

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.temp, ignore_errors=True)


# ----------------------------------------------------------------------------------- helpers


def write_recipe(tmp: Path, address: str = "", executor: str = "ray") -> Path:
    (tmp / "fitness_fns.py").write_text((HERE / "fitness_fns.py").read_text())
    path = tmp / "recipe.toml"
    path.write_text(RECIPE.format(executor=executor, address=address))
    return path


def status(run_dir: Path) -> dict:
    """``status RUN_DIR --json`` as a process of its own, with the cluster's token, parsed."""
    return status_json(run_dir, env=RAY_ENV, timeout=60)


def finished_generations(run_dir: Path) -> int:
    try:
        return query(run_dir, "SELECT COUNT(*) FROM generations WHERE finished IS NOT NULL")[0][0]
    except sqlite3.Error:  # not created yet
        return 0


@pytest.fixture
def clusters(tmp_path):
    """Start clusters with ``clusters()``; every one of them is killed at the end."""
    made: list[Cluster] = []

    def make() -> Cluster:
        made.append(Cluster(tmp_path))
        return made[-1]

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The local pool's undisturbed search of the same recipe."""
    tmp = tmp_path_factory.mktemp("local")
    # In this process (tests/in_process.py): no Ray here, the local pool's workers run apart.
    out = cli_in_process(
        "search", str(write_recipe(tmp, executor="local")), "--out", str(tmp / "r")
    )
    assert out.returncode == 0, out.stderr
    return status(tmp / "r")


def same_search(s: dict, reference: dict) -> None:
    assert s["state"] == "finished" and s["evaluations"] == 6 * 3
    assert s["best"] == reference["best"]
    for ours, theirs in zip(s["generations"], reference["generations"], strict=True):
        assert ours["best_fitness"] == theirs["best_fitness"]
        assert ours["sigma"] == theirs["sigma"]


# ------------------------------------------------------------------------------------- tests


NODE_LOSS = (
    "SELECT generation, candidate, attempt, worker, status, error FROM attempts "
    "WHERE (generation, candidate, attempt) IN "
    "(SELECT generation, candidate, attempt FROM attempts WHERE status = 'infra') ORDER BY id"
)


def rerun_done(run_dir: Path) -> bool:
    """The attempt the lost node held has been run again, and ended, on the surviving node."""
    try:
        rows = query(run_dir, NODE_LOSS)
    except sqlite3.Error:
        return False
    return len(rows) == 2 and rows[1][4] == "ok"


@pytest.mark.slow
def test_a_node_then_the_head_lost_mid_search_and_resume_finishes(tmp_path, clusters, reference):
    """One search on a two-node cluster. The second node is lost mid-attempt: that attempt is
    run again on the head's actor and the search goes on there alone. Then the head is lost:
    one line, exit 2, resumable. The cluster comes back elsewhere and the resume ends exactly
    as the local pool's undisturbed search.

    (Once two tests, each starting its own cluster and search; the two losses follow each other
    in one search now, and every assertion of both is kept.)
    """
    first = clusters()
    head = first.start_head(num_cpus=1)
    second = first.add_node(num_cpus=1)
    run_dir = tmp_path / "run"
    recipe = write_recipe(tmp_path, first.address)
    proc = spawn("search", str(recipe), "--out", str(run_dir), env=RAY_ENV)
    try:
        # One actor per node (one CPU each); kill the second node while its actor evaluates.
        wait_for(second.busy_evaluating, timeout=90, proc=proc)
        second.kill()
        # The search goes on with the head's actor alone: the lost attempt is run again there,
        # and a whole generation more is done, before the head is lost in the last one.
        wait_for(
            lambda: (
                rerun_done(run_dir)
                and finished_generations(run_dir) >= 2
                and head.busy_evaluating()
            ),
            timeout=90,
            proc=proc,
        )
        infra_before_the_head = query(
            run_dir, "SELECT COUNT(*) FROM attempts WHERE status = 'infra'"
        )[0][0]
        head.kill()
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=120)
        stopped_after = time.monotonic() - t0
    finally:
        proc.kill()
    # The node's loss: one infrastructure failure, the same attempt run again on the other actor.
    assert infra_before_the_head == 1
    (lost, rerun) = query(run_dir, NODE_LOSS)[:2]
    assert lost[:3] == rerun[:3]  # the same attempt, run again
    assert lost[4] == "infra" and "died" in lost[5]
    assert rerun[4] == "ok" and rerun[3] != lost[3]  # on the other node's actor
    # The head's loss: one line naming the run directory, exit 2, resumable.
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: execution.ray_address = ")
    assert "lost the Ray cluster's head node" in last
    assert f"`keras-taylorglo resume {run_dir}`" in last  # the CLI names the run directory
    # Before Ray's own 60 s limit, where it ends the driver with a C++ message (exit 1).
    assert stopped_after < 45
    assert status(run_dir)["state"] == "interrupted"
    done_before = query(run_dir, "SELECT COUNT(*) FROM attempts WHERE status = 'ok'")[0][0]
    assert 12 <= done_before < 18

    # The cluster comes back (elsewhere): resume there.
    again = clusters()
    again.start_head(num_cpus=2)
    address = f"execution.ray_address={again.address}"
    out = cli("resume", str(run_dir), "--set", address, env=RAY_ENV, timeout=180)
    assert out.returncode == 0, out.stderr
    s = status(run_dir)
    same_search(s, reference)
    assert sum(g["candidate_failures"] for g in s["generations"]) == 0
    ok = query(run_dir, "SELECT generation, candidate, attempt FROM attempts WHERE status = 'ok'")
    assert len(ok) == len(set(ok)) == 18, "a finished attempt was run again"
