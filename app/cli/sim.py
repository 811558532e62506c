"""`certprep sim serve | create | delete | list | user | snapshot | restore`: the
bundled Kubernetes simulator.

`serve` runs a simulator server (HTTPS with a CA generated at start; plain HTTP only
with `--insecure-http`) and writes its address, admin token and CA certificate to a
state directory (`--state-dir`, default `~/.certprep/sim`, or `CERTPREP_SIM_STATE_DIR`)
so that `create`, `delete` and `list` on the same machine find it without flags. Those
look in `--state-dir` or `CERTPREP_SIM_STATE_DIR` when given, else in the instance
folder's `sim/` (where `certprep up` runs its simulator; `--instance-dir`,
`CERTPREP_INSTANCE_DIR`, default `./instance`), then in `~/.certprep/sim`. With
`--persist` the CA key and every cluster are saved there on shutdown and loaded at the
next start, so kubeconfigs keep working across restarts.
`--server`, `--admin-token` and `--ca-file` (or `CERTPREP_SIM_URL`,
`CERTPREP_SIM_ADMIN_TOKEN`, `CERTPREP_SIM_CA_FILE`) point them at another server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from pathlib import Path
from typing import Any

import click

from app.sim.machinery.kubeconfig import write_kubeconfig

STATE_FILE = "server.json"
CA_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CLUSTERS_DIR = "clusters"


def default_state_dir() -> Path:
    return Path(os.environ.get("CERTPREP_SIM_STATE_DIR") or Path.home() / ".certprep" / "sim")


def known_state_dirs() -> list[Path]:
    """Where `create`, `list` and the others look for a running server's `server.json`,
    in order: `CERTPREP_SIM_STATE_DIR` alone when set; else the instance folder's
    simulator (as `certprep up` runs it), then the default of `sim serve`."""
    explicit = os.environ.get("CERTPREP_SIM_STATE_DIR")
    if explicit:
        return [Path(explicit)]
    instance = Path(os.environ.get("CERTPREP_INSTANCE_DIR") or "instance")
    return [instance / "sim", default_state_dir()]


def _write_private(path: Path, data: bytes) -> None:
    """Write `path` (mode 0600) whole or not at all: readers polling for it (clients
    looking for `server.json`) never see it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    temporary.replace(path)


@click.group("sim")
def sim() -> None:
    """The bundled Kubernetes simulator: a server holding many clusters."""


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6443, show_default=True, type=int, help="Port (0: any free).")
@click.option("--insecure-http", is_flag=True, help="Serve plain HTTP instead of HTTPS.")
@click.option(
    "--admin-token",
    envvar="CERTPREP_SIM_ADMIN_TOKEN",
    default=None,
    help="Token for /admin/clusters (default: generated and printed).",
)
@click.option(
    "--advertise-host",
    default=None,
    help="Host name put into kubeconfigs and the certificate (default: --host).",
)
@click.option("--max-clusters", default=500, show_default=True, type=int)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write server.json and ca.crt (default ~/.certprep/sim).",
)
@click.option(
    "--persist",
    is_flag=True,
    help="Keep the CA and every cluster in the state directory across restarts, "
    "written continuously (a crash loses at most the last fraction of a second).",
)
@click.option(
    "--shards",
    envvar="CERTPREP_SIM_SHARDS",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes that hold the clusters (default: the number of CPUs; "
    "1: everything in this one process).",
)
@click.option(
    "--shard-base-port",
    envvar="CERTPREP_SIM_SHARD_BASE_PORT",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the first shard; shard i listens on it + i (default: --port + 1; "
    "with --port 0 every shard takes a free port).",
)
def serve(
    host: str,
    port: int,
    insecure_http: bool,
    admin_token: str | None,
    advertise_host: str | None,
    max_clusters: int,
    state_dir: Path | None,
    persist: bool,
    shards: int | None,
    shard_base_port: int | None,
) -> None:
    """Run the simulator server until interrupted (Ctrl-C or SIGTERM)."""
    from app.logging import configure_logging
    from app.sim.machinery.tls import KeyPair

    # Internal errors (500s) and failing control-plane loops are logged, never silent.
    configure_logging()

    from app.sim.machinery.limits import ClusterLimits
    from app.sim.shards import existing_shards

    try:  # per-cluster limits: CERTPREP_SIM_MAX_OBJECTS, ... (docs/operations.md)
        limits = ClusterLimits.from_env(os.environ)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    state = state_dir or default_state_dir()
    ca = None
    if persist and (state / CA_FILE).exists() and (state / CA_KEY_FILE).exists():
        ca = KeyPair((state / CA_FILE).read_bytes(), (state / CA_KEY_FILE).read_bytes())
    shards = shards or os.cpu_count() or 1
    if shards > 1 or (persist and existing_shards(state / CLUSTERS_DIR) > 1):
        options = {"host": host, "port": port, "tls": not insecure_http}
        options.update(max_clusters=max_clusters, advertise_host=advertise_host)
        token = admin_token or secrets.token_urlsafe(32)
        _serve_sharded(state, persist, ca, token, shards, shard_base_port, options)
        return
    _serve_single(
        state,
        persist,
        ca,
        admin_token,
        limits,
        host,
        port,
        insecure_http,
        advertise_host,
        max_clusters,
    )


def _serve_sharded(
    state: Path,
    persist: bool,
    ca: Any,
    admin_token: str,
    shards: int,
    shard_base_port: int | None,
    options: dict[str, Any],
) -> None:
    """`sim serve` with the clusters in shard processes (`app.sim.shards`)."""
    import asyncio
    import time

    from app.sim.machinery.tls import generate_ca
    from app.sim.shards import ShardedServer

    if options["tls"] and ca is None:
        ca = generate_ca()
    if persist and ca is not None:
        # Before any cluster exists: the kubeconfigs it signs must outlive a crash.
        _write_private(state / CA_FILE, ca.cert_pem)
        _write_private(state / CA_KEY_FILE, ca.key_pem)
    server = ShardedServer(
        shards=shards,
        admin_token=admin_token,
        ca=ca,
        directory=state / CLUSTERS_DIR if persist else None,
        shard_base_port=shard_base_port,
        **options,
    )

    async def run() -> None:
        began = time.monotonic()
        try:
            await server.start()
        except (RuntimeError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"{server.count} shards: " + ", ".join(server.shard_url(s) for s in server.shards)
        )
        if persist and server.owners:
            click.echo(
                f"restored {len(server.owners)} cluster(s) from {state / CLUSTERS_DIR} "
                f"in {time.monotonic() - began:.2f} s"
            )
        await _announce_and_wait(server, state, persist)
        if persist:  # each shard checkpointed every cluster it held on the way out
            click.echo(f"saved {len(server.owners)} cluster(s) to {state / CLUSTERS_DIR}")

    asyncio.run(run())
    click.echo("simulator stopped")


async def _announce_and_wait(server: Any, state: Path, persist: bool) -> None:
    """Write `server.json` (and the CA), print the address, serve until SIGINT or
    SIGTERM, then stop the server."""
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    info: dict[str, Any] = {"url": server.base_url, "adminToken": server.admin_token}
    if server.ca is not None:
        _write_private(state / CA_FILE, server.ca.cert_pem)
        if persist:
            _write_private(state / CA_KEY_FILE, server.ca.key_pem)
        info["caFile"] = str(state / CA_FILE)
    _write_private(state / STATE_FILE, json.dumps(info, indent=2).encode())
    click.echo(f"simulator listening on {server.base_url}", nl=True)
    click.echo(f"admin token: {server.admin_token}")
    click.echo(f"state written to {state}")
    try:
        await stop.wait()
    finally:
        await server.stop()


def _serve_single(
    state: Path,
    persist: bool,
    ca: Any,
    admin_token: str | None,
    limits: Any,
    host: str,
    port: int,
    insecure_http: bool,
    advertise_host: str | None,
    max_clusters: int,
) -> None:
    """`sim serve --shards 1`: every cluster in this process."""
    import asyncio

    from app.sim.server import SimServer, gc_pauses, gc_setting, tune_gc

    server = SimServer(
        host=host,
        port=port,
        tls=not insecure_http,
        admin_token=admin_token or secrets.token_urlsafe(32),
        max_clusters=max_clusters,
        advertise_host=advertise_host,
        ca=ca,
        limits=limits,
    )
    if persist:
        if server.ca is not None:
            # Before any cluster exists: the kubeconfigs it signs must outlive a crash.
            _write_private(state / CA_FILE, server.ca.cert_pem)
            _write_private(state / CA_KEY_FILE, server.ca.key_pem)
        # Clusters are persisted continuously (a write-ahead log plus snapshots), so a
        # killed server comes back with them; see docs/operations.md, "Crash safety".
        loaded = server.enable_journal(state / CLUSTERS_DIR)
        if loaded:
            seconds = server.journal.stats.get("recover_seconds", 0) if server.journal else 0
            click.echo(
                f"restored {len(loaded)} cluster(s) from {state / CLUSTERS_DIR} in {seconds:.2f} s"
            )

    async def run() -> None:
        await server.start()
        # Start-up and recovery are done (see `tune_gc`).
        tune_gc(gc_setting(os.environ))
        await _announce_and_wait(server, state, persist)
        click.echo(gc_pauses())

    asyncio.run(run())
    if persist and server.journal is not None:
        count = server.journal.close()
        click.echo(f"saved {count} cluster(s) to {state / CLUSTERS_DIR}")
    click.echo("simulator stopped")


class AdminClient:
    """The admin API of a running simulator server, over the standard library's HTTP
    client (importing `requests` would cost a learner command a fifth of its start-up)."""

    def __init__(self, url: str, token: str, ca_file: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.ca_file = ca_file

    def _context(self) -> Any:
        import ssl

        if not self.url.startswith("https:"):
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def call(self, method: str, path: str, json: Any = None) -> Any:
        import json as jsonlib
        import urllib.error
        import urllib.request

        data = None if json is None else jsonlib.dumps(json).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        # No proxy from the environment: the server is reached directly, with its own CA.
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self._context())
        )
        try:
            with opener.open(request, timeout=30) as response:
                return jsonlib.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                message = jsonlib.loads(text).get("message", text)
            except (ValueError, AttributeError):
                message = text
            raise click.ClickException(f"simulator answered {exc.code}: {message}") from None
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot reach the simulator at {self.url}: {exc}") from None


def _admin_client(
    server: str | None, admin_token: str | None, ca_file: str | None, state_dir: Path | None
) -> AdminClient:
    state: dict[str, Any] = {}
    for folder in [state_dir] if state_dir else known_state_dirs():
        path = folder / STATE_FILE
        if path.exists():
            state = json.loads(path.read_text())
            break
    url = server or state.get("url")
    token = admin_token or state.get("adminToken")
    if not url or not token:
        raise click.ClickException(
            "no simulator server known: run `certprep up` (or `certprep sim serve`), run "
            "this in its folder or pass --instance-dir, or pass --server and --admin-token"
        )
    return AdminClient(url, token, ca_file or state.get("caFile"))


def _server_options(fn: Any) -> Any:
    fn = click.option(
        "--server", envvar="CERTPREP_SIM_URL", default=None, help="Simulator base URL."
    )(fn)
    fn = click.option("--admin-token", envvar="CERTPREP_SIM_ADMIN_TOKEN", default=None)(fn)
    fn = click.option(
        "--ca-file",
        envvar="CERTPREP_SIM_CA_FILE",
        default=None,
        help="CA certificate of the simulator's HTTPS.",
    )(fn)
    fn = click.option(
        "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None
    )(fn)
    return fn


@sim.command("create")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option("--id", "cluster_id", default=None, help="Cluster id (default: generated).")
@click.option(
    "--lab",
    "lab_ref",
    default=None,
    help="A lab folder or the slug of one in labs/: the cluster gets its shape and setup.",
)
@click.option(
    "--addon",
    "addons",
    multiple=True,
    type=click.Choice(["ingress-nginx", "gateway-api"]),
    help="An optional add-on to install (repeatable): ingress-nginx, gateway-api.",
)
@click.option(
    "--kubeconfig",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the cluster's kubeconfig.",
)
@_server_options
def create(
    nodes: int,
    cluster_id: str | None,
    lab_ref: str | None,
    addons: tuple[str, ...],
    kubeconfig: Path,
    server: str | None,
    admin_token: str | None,
    ca_file: str | None,
    state_dir: Path | None,
) -> None:
    """Create a cluster and write its kubeconfig; with `--lab`, a cluster of the lab's
    shape with its setup applied, as a lab session starts; `--addon` installs the
    ingress-nginx controller or the Gateway API (CRDs and NGINX Gateway Fabric)."""
    import yaml

    client = _admin_client(server, admin_token, ca_file, state_dir)
    body: dict[str, Any] = {"nodes": nodes}
    if cluster_id:
        body["id"] = cluster_id
    if lab_ref:
        _create_lab_cluster(client, lab_ref, body, kubeconfig)
        return
    if addons:
        from app.sim.bootstrap import node_names

        names = node_names(nodes)
        shape_nodes = [{"name": names[0], "role": "control-plane"}]
        shape_nodes += [{"name": name, "role": "worker"} for name in names[1:]]
        body["shape"] = {"nodes": shape_nodes, "addons": list(dict.fromkeys(addons))}
    doc = client.call("POST", "/admin/clusters", json=body)
    path = write_kubeconfig(yaml.safe_load(doc["kubeconfig"]), kubeconfig)
    click.echo(f"cluster {doc['id']} created with {doc['nodes']} nodes")
    click.echo(f"export KUBECONFIG={path.resolve()}")


def _create_lab_cluster(
    client: AdminClient, lab_ref: str, body: dict[str, Any], kubeconfig: Path
) -> None:
    """A cluster of a lab's shape with its setup restored (built on a manual clock by the
    simulator provider, as for a lab session); ClickException for a lab that does not
    load or a setup that fails."""
    import yaml

    from app.clusters.base import ClusterHandle, LabSetup, ProviderError
    from app.clusters.simulator import SimulatorProvider, _SnapshotCache
    from app.grading.labfile import LabFileError, load_lab
    from app.services.labs import default_labs_root

    folder = Path(lab_ref)
    if not folder.is_dir():
        folder = default_labs_root() / lab_ref
    try:
        lab = load_lab(folder)
    except (LabFileError, OSError) as exc:
        raise click.ClickException(f"cannot load lab {lab_ref!r}: {exc}") from None
    shape = lab.data["cluster"]
    provider = SimulatorProvider(
        [client.url],
        client.token,
        ca_file=client.ca_file,
        snapshots=_SnapshotCache(),
    )
    doc = client.call(
        "POST", "/admin/clusters", json={**body, "nodes": len(shape["nodes"]), "shape": shape}
    )
    handle = ClusterHandle("simulator", doc["id"], {"url": client.url})
    setup = LabSetup(
        slug=lab.slug,
        content_hash="cli",
        shape=shape,
        manifests=[{"name": p.name, "content": p.read_text()} for p in lab.manifest_paths()],
        faults=list((lab.data.get("setup") or {}).get("faults") or []),
    )
    try:
        provider.apply_setup(handle, setup)
        text = provider.kubeconfig(handle)
    except ProviderError as exc:
        provider.delete(handle)
        raise click.ClickException(f"setting up lab {lab.slug}: {exc}") from None
    path = write_kubeconfig(yaml.safe_load(text), kubeconfig)
    click.echo(f"cluster {doc['id']} created with {doc['nodes']} nodes for lab {lab.slug}")
    click.echo(f"export KUBECONFIG={path.resolve()}")


@sim.command("delete")
@click.argument("cluster_id")
@_server_options
def delete(
    cluster_id: str,
    server: str | None,
    admin_token: str | None,
    ca_file: str | None,
    state_dir: Path | None,
) -> None:
    """Delete a cluster."""
    client = _admin_client(server, admin_token, ca_file, state_dir)
    client.call("DELETE", f"/admin/clusters/{cluster_id}")
    click.echo(f"cluster {cluster_id} deleted")


@sim.command("list")
@_server_options
def list_clusters(
    server: str | None, admin_token: str | None, ca_file: str | None, state_dir: Path | None
) -> None:
    """List the clusters of a server."""
    client = _admin_client(server, admin_token, ca_file, state_dir)
    doc = client.call("GET", "/admin/clusters")
    click.echo(f"{'ID':<14} {'NODES':>5} {'OBJECTS':>7}  CREATED")
    for item in doc["items"]:
        click.echo(f"{item['id']:<14} {item['nodes']:>5} {item['objects']:>7}  {item['createdAt']}")


@sim.command("user")
@click.argument("cluster_id")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="A group of the user (repeatable).")
@click.option("--cert", is_flag=True, help="A client certificate instead of a token.")
@click.option(
    "--kubeconfig",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the user's kubeconfig.",
)
@_server_options
def user(
    cluster_id: str,
    name: str,
    groups: tuple[str, ...],
    cert: bool,
    kubeconfig: Path,
    server: str | None,
    admin_token: str | None,
    ca_file: str | None,
    state_dir: Path | None,
) -> None:
    """Issue a credential for a user of a cluster (no permissions until RBAC grants them)."""
    import yaml

    client = _admin_client(server, admin_token, ca_file, state_dir)
    body = {"name": name, "groups": list(groups), "credential": "certificate" if cert else "token"}
    doc = client.call("POST", f"/admin/clusters/{cluster_id}/users", json=body)
    path = write_kubeconfig(yaml.safe_load(doc["kubeconfig"]), kubeconfig)
    click.echo(f"user {name} of cluster {cluster_id}")
    click.echo(f"export KUBECONFIG={path.resolve()}")


@sim.command("snapshot")
@click.argument("cluster_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_server_options
def snapshot(
    cluster_id: str,
    out: Path,
    server: str | None,
    admin_token: str | None,
    ca_file: str | None,
    state_dir: Path | None,
) -> None:
    """Save a cluster's state (objects and credentials) to a JSON file."""
    client = _admin_client(server, admin_token, ca_file, state_dir)
    data = client.call("POST", f"/admin/clusters/{cluster_id}/snapshot")
    _write_private(out, json.dumps(data).encode())
    click.echo(f"cluster {cluster_id} saved to {out} ({len(json.dumps(data))} bytes)")


@sim.command("restore")
@click.argument("cluster_id")
@click.argument("snapshot_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_server_options
def restore(
    cluster_id: str,
    snapshot_file: Path,
    server: str | None,
    admin_token: str | None,
    ca_file: str | None,
    state_dir: Path | None,
) -> None:
    """Replace a cluster's state with a snapshot file."""
    client = _admin_client(server, admin_token, ca_file, state_dir)
    try:
        data = json.loads(snapshot_file.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{snapshot_file} is not a snapshot: {exc}") from None
    doc = client.call("POST", f"/admin/clusters/{cluster_id}/restore", json=data)
    click.echo(f"cluster {cluster_id} restored ({doc['objects']} objects)")


commands = [sim]
