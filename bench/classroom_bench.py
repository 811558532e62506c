"""A classroom: N learners, each with a 3-node cluster, typing kubectl at once.
Prints figures, asserts nothing.

    python bench/classroom_bench.py [--learners 200] [--minutes 5] [--think 5]
                                    [--nodes 3] [--kubectl-learners 10]

Starts a real `certprep sim serve` process (HTTPS, its default shards) and creates one
cluster per learner through the admin API, each with a small Deployment and a logging
pod applied by kubectl. Each learner then runs, for `--minutes`, a realistic mix of
kubectl commands against its own cluster, one every `--think` seconds on average
(jittered +-50 %, a learner's next command waits for the previous one): get,
describe, logs, apply and exec, in the proportions of MIX.

A real kubectl process costs about 0.1 s of CPU, so a 2-core machine cannot run 200
learners' kubectl (40 commands a second). Most learners are therefore replay learners;
`--kubectl-learners` of them (spread over the clusters) still run real kubectl:

- before the clock starts, every command variant of the mix is run once by real kubectl
  (warm `--cache-dir`, so discovery comes from its cache as in a learner's session)
  through a recording forwarder (kubectl_record.py) in front of a spare cluster; that
  gives each variant's exact requests: method, path and query, headers (Accept,
  Content-Type, User-Agent, ...), bodies (`kubectl apply`'s GET and strategic-merge
  PATCH), and `kubectl exec`'s WebSocket upgrade with its subprotocol;
- a replay learner sends that sequence to its own cluster from one asyncio process,
  with its cluster's path, token, object UIDs and apply revision substituted, over a
  new TLS connection per command (as a kubectl process opens one), verifying the
  server's certificate. It checks every answer: the status kubectl got, and for exec
  `hello` on stdout and a Success status on channel 3. It does not decode or print
  answers as kubectl does: its latency is the server's (plus the network), kubectl's
  own start-up, decoding and printing left out.

Before the clock starts it prints what each variant sends and the server's CPU per
command of each (replayed `--cost-runs` times in a row on the recording's cluster).
Then it prints p50/p99 latency per verb for each kind of learner, the errors (there should be
none; each is printed), the rate asked and achieved, the CPU-seconds of every server
process (the front and its shards, from /proc, so other load does not count) and of
the clients (this process, kubectl processes), the server's RSS at the start and the
end, the lag of the replay client's event loop, and the load average. After the run
each learner's Deployment must carry the revision its last apply sent (else an error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import socket
import ssl
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import requests
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from idle_clusters_bench import cpu_seconds, kubectl, load_average, process_tree, rss_mib
from kubectl_record import Exchange, Forwarder, forwarder_tls
from sim_process import create_cluster, start_sim_server

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, rev: "REV"}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: logger, labels: {app: logger}}
spec:
  containers:
  - name: logger
    image: busybox
    command: ["sh", "-c", "while true; do echo tick; sleep 5; done"]
"""

# (verb, weight): reads dominate, as in a learner's session.
MIX = [("get", 40), ("describe", 20), ("logs", 15), ("apply", 15), ("exec", 10)]
# Each verb's command variants, picked at random: (kubectl arguments, applies a manifest).
VARIANTS: dict[str, list[list[str]]] = {
    "get": [["get", "pods"], ["get", "deploy,rs,svc"], ["get", "nodes"]],
    "describe": [["describe", "deploy", "web"], ["describe", "node", "node01"]],
    "logs": [["logs", "logger", "--tail=20"]],
    "apply": [["apply", "-f", "-"]],
    "exec": [["exec", "logger", "--", "echo", "hello"]],
}
# The revision the recorded apply carries; replaced by each learner's own.
MARKER = "424242"
KINDS = ("replay", "kubectl")


def manifest(revision: int | str) -> str:
    return DEPLOYMENT.replace("REV", str(revision))


@dataclass
class Cluster:
    """A learner's (or the recorder's) cluster and the values a replay substitutes."""

    index: int
    kubeconfig: Path
    path: str  # /clusters/<id>
    base: str  # https://host:port of the process serving it
    token: str
    uids: dict[str, str] = field(default_factory=dict)  # deployment/web, node/node01
    revision: int = 1
    kind: str = "replay"

    def substitutions(self, recorder: Cluster) -> list[tuple[str, str]]:
        pairs = [(recorder.path, self.path), (recorder.token, self.token)]
        pairs += [(recorder.uids[name], uid) for name, uid in self.uids.items()]
        return pairs


@dataclass
class Recorded:
    """One command variant as kubectl sent it."""

    args: list[str]
    exchanges: list[Exchange]


class Results:
    def __init__(self) -> None:
        self.latency: dict[tuple[str, str], list[float]] = {
            (kind, verb): [] for kind in KINDS for verb, _ in MIX
        }
        self.errors: list[str] = []

    def record(self, kind: str, verb: str, seconds: float, error: str | None) -> None:
        self.latency[kind, verb].append(seconds)
        if error is not None:
            self.errors.append(f"{kind} {verb}: {error}")


# ---- setup ------------------------------------------------------------------------------


def new_cluster(info: dict, index: int, nodes: int, home: Path) -> Cluster:
    """A cluster through the admin API with the mix's Deployment and pod applied."""
    doc = create_cluster(info, nodes=nodes)
    path = home / f"learner{index}" / "config"
    path.parent.mkdir(parents=True)
    path.write_text(doc["kubeconfig"])
    base, cluster_path = doc["server"].split("/clusters/")
    cluster = Cluster(index, path, f"/clusters/{cluster_path}", base, doc["token"])
    done = kubectl(path, "apply", "-f", "-", stdin=manifest(cluster.revision))
    if done.returncode != 0:
        raise SystemExit(f"setup apply failed: {done.stderr}")
    return cluster


def ready(cluster: Cluster, ca: str) -> None:
    """Wait for the logging pod, then note the UIDs a `describe` sends."""
    kubectl(cluster.kubeconfig, "wait", "pod/logger", "--for=condition=Ready", "--timeout=120s")
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {cluster.token}"
    url = cluster.base + cluster.path
    for name, path in (
        ("deployment/web", "/apis/apps/v1/namespaces/default/deployments/web"),
        ("node/node01", "/api/v1/nodes/node01"),
    ):
        answer = session.get(url + path, verify=ca, timeout=60)
        answer.raise_for_status()
        cluster.uids[name] = answer.json()["metadata"]["uid"]


def check_revisions(clusters: list[Cluster], ca: str, results: Results) -> None:
    """After the run: each learner's Deployment carries the revision of its last apply
    (the replayed PATCH did what kubectl's does). A mismatch is an error."""
    session = requests.Session()
    session.trust_env = False
    for cluster in clusters:
        url = cluster.base + cluster.path + "/apis/apps/v1/namespaces/default/deployments/web"
        answer = session.get(url, headers={"Authorization": f"Bearer {cluster.token}"}, verify=ca)
        got = answer.json()["spec"]["template"]["metadata"]["labels"].get("rev")
        if got != str(cluster.revision):
            results.errors.append(
                f"{cluster.kind} apply: learner {cluster.index}'s Deployment has rev {got}, "
                f"its last apply sent {cluster.revision}"
            )


def setup(info: dict, count: int, nodes: int, home: Path) -> list[Cluster]:
    """`count` learners' clusters and one more for the recording (the last), created two
    at a time as the idle-clusters bench does."""
    ca = str(home.parent / "ca.crt")
    with ThreadPoolExecutor(max_workers=2) as pool:
        clusters = list(pool.map(lambda i: new_cluster(info, i, nodes, home), range(count + 1)))
        list(pool.map(lambda c: ready(c, ca), clusters))
    return clusters


# ---- recording ------------------------------------------------------------------------


async def run_kubectl(kubeconfig: Path, args: list[str], stdin: str | None) -> tuple[int, str]:
    """A real kubectl process (its kubeconfig's folder is HOME: its own cache); returns
    its exit code and stderr. A hung kubectl is killed after 120 s."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin else None), timeout=120
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, "timed out after 120 s"
    return process.returncode or 0, err.decode(errors="replace").strip()


async def record(recorder: Cluster) -> dict[str, list[Recorded]]:
    """Each command variant of the mix as real kubectl sends it to `recorder`'s cluster,
    through the recording forwarder; each variant runs once untimed first so that
    kubectl's discovery and OpenAPI caches are warm for this address."""
    forwarder = Forwarder(recorder.base)
    context, ca_pem = forwarder_tls()
    runner = web.AppRunner(forwarder.app())
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock, ssl_context=context).start()
    config = yaml.safe_load(recorder.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    cluster["server"] = f"https://127.0.0.1:{port}{recorder.path}"
    cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    kubeconfig = recorder.kubeconfig.parent.parent / "recorder" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text(yaml.safe_dump(config))
    recorded: dict[str, list[Recorded]] = {}
    try:
        for verb, variants in VARIANTS.items():
            for args in variants:
                for revision in (2, MARKER):  # warm, then recorded
                    stdin = manifest(revision) if verb == "apply" else None
                    forwarder.take()
                    code, err = await run_kubectl(kubeconfig, args, stdin)
                    if code != 0:
                        raise SystemExit(f"recording kubectl {' '.join(args)} failed: {err}")
                recorded.setdefault(verb, []).append(Recorded(args, forwarder.take()))
    finally:
        await runner.cleanup()
    check_recording(recorded, recorder)
    return recorded


def check_recording(recorded: dict[str, list[Recorded]], recorder: Cluster) -> None:
    """Everything cluster-specific in the recording is something a replay substitutes."""
    for verb, variants in recorded.items():
        for variant in variants:
            for exchange in variant.exchanges:
                text = exchange.path_qs + exchange.body.decode(errors="replace")
                if not exchange.path_qs.startswith(recorder.path + "/"):
                    raise SystemExit(f"unexpected request outside the cluster: {exchange.path_qs}")
                if MARKER in text and verb != "apply":
                    raise SystemExit(f"revision marker in a {verb} request")
            if verb == "apply" and not any(MARKER in e.body.decode() for e in variant.exchanges):
                raise SystemExit("the recorded apply sends no revision")


def describe_recording(recorded: dict[str, list[Recorded]]) -> str:
    lines = []
    for variants in recorded.values():
        for variant in variants:
            steps = ", ".join(
                f"{e.method}{' (WebSocket ' + e.websocket + ')' if e.websocket else ''} "
                f"{e.path_qs.split('/', 3)[3].split('?')[0]} -> {e.status}"
                for e in variant.exchanges
            )
            lines.append(f"  kubectl {' '.join(variant.args)}: {steps}")
    return "\n".join(lines)


# ---- the replay learner ---------------------------------------------------------------


def substitute(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


async def replay(
    cluster: Cluster, variant: Recorded, pairs: list[tuple[str, str]], context: ssl.SSLContext
) -> str | None:
    """Send one recorded command to `cluster` over a new connection; the first answer
    that differs from what kubectl got, or None."""
    connector = aiohttp.TCPConnector(ssl=context)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        for exchange in variant.exchanges:
            url = cluster.base + substitute(exchange.path_qs, pairs)
            headers = [(k, substitute(v, pairs)) for k, v in exchange.headers]
            if exchange.websocket:
                error = await replay_exec(session, url, headers, exchange)
                if error:
                    return error
                continue
            body = substitute(exchange.body.decode(), pairs).encode() if exchange.body else None
            status = await send_as_client_go(session, exchange.method, url, headers, body)
            if status != exchange.status:
                return f"{exchange.method} {url}: {status}, kubectl got {exchange.status}"
    return None


# client-go retries a request answered 429 (or 5xx) with a Retry-After header, waiting
# that long, up to 10 times (rest.Request's default maxRetries), before giving up.
CLIENT_GO_RETRIES = 10


async def send_as_client_go(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> int:
    """One request, retried as client-go retries it; the final status."""
    for _ in range(CLIENT_GO_RETRIES):
        async with session.request(
            method, url, headers=headers, data=body, allow_redirects=False
        ) as answer:
            await answer.read()
            retry_after = answer.headers.get("Retry-After", "")
            if answer.status != 429 or not retry_after.isdigit():
                return answer.status
        await asyncio.sleep(int(retry_after))
    return answer.status


async def replay_exec(
    session: aiohttp.ClientSession, url: str, headers: list[tuple[str, str]], exchange: Exchange
) -> str | None:
    """The exec WebSocket: same subprotocols offered, the client's messages sent, the
    server's read until the Status on channel 3."""
    offered = [p.strip() for p in exchange.header("Sec-WebSocket-Protocol").split(",") if p]
    plain = [(k, v) for k, v in headers if k.lower() != "sec-websocket-protocol"]
    stdout = b""
    async with session.ws_connect(url, protocols=offered, headers=plain) as stream:
        if stream.protocol != exchange.websocket:
            return f"exec: subprotocol {stream.protocol}, kubectl got {exchange.websocket}"
        for message in exchange.sent:
            await stream.send_bytes(message)
        async for message in stream:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, data = message.data[0], message.data[1:]
            if channel == 1:
                stdout += data
            elif channel == 3:
                status = json.loads(data).get("status")
                if status != "Success" or stdout != b"hello\n":
                    return f"exec: status {status}, stdout {stdout!r}"
                return None
    return f"exec: closed before its status (stdout {stdout!r})"


async def one_command(
    cluster: Cluster,
    verb: str,
    recorded: dict[str, list[Recorded]],
    recorder: Cluster,
    context: ssl.SSLContext,
) -> str | None:
    variant = random.choice(recorded[verb])
    if verb == "apply":
        cluster.revision += 1
    if cluster.kind == "kubectl":
        stdin = manifest(cluster.revision) if verb == "apply" else None
        code, err = await run_kubectl(cluster.kubeconfig, variant.args, stdin)
        return None if code == 0 else f"exit {code}: {err[:300]}"
    pairs = [(MARKER, str(cluster.revision)), *cluster.substitutions(recorder)]
    return await replay(cluster, variant, pairs, context)


# ---- the classroom --------------------------------------------------------------------


def schedule(count: int, seconds: float, think: float) -> list[list[tuple[float, str]]]:
    """Each learner's commands as (offset, verb), jittered."""
    verbs, weights = zip(*MIX, strict=True)
    plans = []
    for _ in range(count):
        plan, at = [], random.uniform(0, think)
        while at < seconds:
            plan.append((at, random.choices(verbs, weights)[0]))
            at += think * random.uniform(0.5, 1.5)
        plans.append(plan)
    return plans


async def learner(
    cluster: Cluster,
    plan: list[tuple[float, str]],
    begin: float,
    results: Results,
    command: dict,
) -> None:
    loop = asyncio.get_running_loop()
    for offset, verb in plan:
        delay = begin + offset - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        started = time.perf_counter()
        try:
            error = await one_command(cluster, verb, **command)
        except Exception as exc:  # a refused connection or a timeout is an error too
            error = repr(exc)[:300]
        results.record(cluster.kind, verb, time.perf_counter() - started, error)


async def loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late the event loop wakes a 0.1 s sleep: the client's own saturation."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + 0.1
        await asyncio.sleep(0.1)
        lags.append(loop.time() - due)


def client_context(cluster: Cluster) -> ssl.SSLContext:
    """TLS for a replay learner: it verifies the server with its kubeconfig's CA, as
    kubectl does (the server's clusters share one CA)."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    ca_pem = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    return ssl.create_default_context(cadata=ca_pem.decode())


async def server_cost(
    pid: int, recorder: Cluster, recorded: dict[str, list[Recorded]], runs: int
) -> list[tuple[str, float]]:
    """Server CPU-ms per command of each variant: `runs` replays one after another on the
    recorder's cluster, plus 2 s for what they set going (an apply's rollout), less what
    the server spends meanwhile anyway (measured over 2 s before each variant)."""
    context = client_context(recorder)
    costs = []
    for verb, variants in recorded.items():
        for variant in variants:
            before = cpu_seconds(pid)
            await asyncio.sleep(2)
            idle = cpu_seconds(pid) - before
            started, before = time.monotonic(), cpu_seconds(pid)
            for _ in range(runs):
                if verb == "apply":
                    recorder.revision += 1
                pairs = [(MARKER, str(recorder.revision))]
                error = await replay(recorder, variant, pairs, context)
                if error:
                    raise SystemExit(f"replaying {' '.join(variant.args)} failed: {error}")
            await asyncio.sleep(2)
            used = cpu_seconds(pid) - before - idle / 2 * (time.monotonic() - started)
            costs.append((" ".join(variant.args), used / runs * 1000))
    return costs


async def classroom(
    clusters: list[Cluster], plans: list, recorded: dict, recorder: Cluster
) -> tuple[Results, float, list[float]]:
    context = client_context(clusters[0])
    command = {"recorded": recorded, "recorder": recorder, "context": context}
    results, lags, stop = Results(), [], asyncio.Event()
    lag = asyncio.create_task(loop_lag(lags, stop))
    begin = asyncio.get_running_loop().time()
    await asyncio.gather(
        *(
            learner(c, plan, begin, results, command)
            for c, plan in zip(clusters, plans, strict=True)
        )
    )
    wall = asyncio.get_running_loop().time() - begin
    stop.set()
    await lag
    return results, wall, lags


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(results: Results, asked: int, seconds: float, wall: float, figures: dict) -> None:
    done = sum(len(v) for v in results.latency.values())
    print(f"{'learners':<9} {'verb':<10} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for (kind, verb), samples in results.latency.items():
        if samples:
            p50, p99 = statistics.median(samples) * 1000, percentile(samples, 0.99) * 1000
            print(f"{kind:<9} {verb:<10} {len(samples):>6} {p50:>8.0f} {p99:>8.0f}")
    print(
        f"rate asked {asked / seconds:.2f} commands/s, achieved {done / wall:.2f} commands/s "
        f"({done} of {asked} in {wall:.0f} s)"
    )
    print(f"errors: {len(results.errors)}")
    for error in results.errors[:50]:
        print(f"  {error}")
    cpu = figures["cpu"]
    print(
        f"server CPU ({figures['processes']} processes): {cpu:.1f} CPU-s over {wall:.0f} s "
        f"= {cpu / wall:.2f} cores; RSS {figures['rss_start']:.0f} MiB -> "
        f"{figures['rss_end']:.0f} MiB"
    )
    print(
        f"client CPU: replay learners (this process) {figures['own'] / wall:.2f} cores, "
        f"kubectl processes {figures['children'] / wall:.2f} cores"
    )
    lags = figures["lags"]
    print(
        f"replay client's event loop lag: p50 {statistics.median(lags) * 1000:.0f} ms, "
        f"p99 {percentile(lags, 0.99) * 1000:.0f} ms"
    )
    print(f"load average: {figures['load_start']} at the start, {figures['load']} at the end")


def cpu_usage() -> tuple[float, float]:
    """CPU-seconds of this process and of its waited-for children (kubectl)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--think", type=float, default=5.0, help="seconds between commands")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument(
        "--kubectl-learners",
        type=int,
        default=10,
        help="learners running real kubectl processes (the others replay)",
    )
    parser.add_argument(
        "--cost-runs", type=int, default=50, help="replays per variant for the per-command cost"
    )
    args = parser.parse_args()
    seconds = args.minutes * 60
    sampled = min(args.kubectl_learners, args.learners)

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        process, info = start_sim_server(state, tls=True)
        pid = process.pid
        try:
            started = time.perf_counter()
            *clusters, recorder = setup(info, args.learners, args.nodes, state / "home")
            for i in range(sampled):  # spread over the clusters (and so the shards)
                clusters[i * args.learners // sampled].kind = "kubectl"
            print(
                f"{args.learners} learners' clusters ({args.nodes} nodes) created and "
                f"applied in {time.perf_counter() - started:.0f} s"
            )
            recorded = asyncio.run(record(recorder))
            print("recorded (kubectl, warm cache):")
            print(describe_recording(recorded))
            costs = asyncio.run(server_cost(pid, recorder, recorded, args.cost_runs))
            print(
                f"server CPU per command ({args.cost_runs} replays in a row on one cluster, "
                f"{args.learners + 1} clusters present, less the idle rate):"
            )
            for name, ms in costs:
                print(f"  kubectl {name}: {ms:.1f} ms")
            plans = schedule(args.learners, seconds, args.think)
            rss_start, cpu_start = rss_mib(pid), cpu_seconds(pid)
            own_start, children_start = cpu_usage()
            load_start = load_average()
            results, wall, lags = asyncio.run(classroom(clusters, plans, recorded, recorder))
            own, children = cpu_usage()
            check_revisions(clusters, str(state / "ca.crt"), results)
            figures = {
                "cpu": cpu_seconds(pid) - cpu_start,
                "processes": len(process_tree(pid)),
                "rss_start": rss_start,
                "rss_end": rss_mib(pid),
                "own": own - own_start,
                "children": children - children_start,
                "lags": lags,
                "load_start": load_start,
                "load": load_average(),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"{args.learners} learners x {args.minutes:g} min, one command every ~{args.think:g} s "
        f"each: {args.learners - sampled} replay learners, {sampled} running kubectl; "
        f"{os.cpu_count()} shared cores"
    )
    report(results, sum(len(p) for p in plans), seconds, wall, figures)


if __name__ == "__main__":
    main()
