"""Where volume data lives: a PersistentVolume's files across pods and nodes, the
nodes' snapshot, subPath and read-only mounts, and cleanup of deleted volumes."""

from __future__ import annotations

from app.sim.nodes import ClusterNodes
from app.sim.nodes.containers import ContainerAccess


def bound(sim, claim: str, volume: dict, pv_name: str = "") -> None:
    pv_name = pv_name or claim + "-pv"
    sim.store.create(
        "",
        "persistentvolumes",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name},
            **volume,
        },
    )
    sim.store.create(
        "",
        "persistentvolumeclaims",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": pv_name,
            },
            "status": {"phase": "Bound"},
        },
    )


def pod(sim, name: str, node: str, volume: dict, **mount: object) -> None:
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "volumeMounts": [{"name": "v", "mountPath": "/mnt", **mount}],
                    }
                ],
                "volumes": [{"name": "v", **volume}],
            },
        },
    )


def run(sim, name: str, script: str):
    return ContainerAccess(sim.nodes).shell("default", name, "app").run(script)


NFS = {
    "spec": {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteMany"],
        "nfs": {"server": "10.0.0.9", "path": "/share"},
    }
}


def test_network_volume_data_is_seen_from_every_node_and_saved(sim) -> None:
    bound(sim, "share", NFS)
    claim = {"persistentVolumeClaim": {"claimName": "share"}}
    pod(sim, "a", "node01", claim)
    pod(sim, "b", "node02", claim, subPath="logs")
    sim.tick(1)
    run(sim, "a", "mkdir -p /mnt/logs; echo one > /mnt/logs/1; echo top > /mnt/top")
    assert run(sim, "b", "cat /mnt/1").stdout == "one\n"
    assert run(sim, "b", "ls /mnt").stdout.split() == ["1"]  # only the subPath
    # The nodes' snapshot carries the volume's files to a fresh node set.
    restored = ClusterNodes(sim.cluster)
    restored.load(sim.nodes.dump())
    assert restored.volume_data["share-pv"].read("/top") == "top\n"
    # A claim referenced read-only (persistentVolumeClaim.readOnly) cannot be written.
    pod(sim, "c", "node02", {"persistentVolumeClaim": {"claimName": "share", "readOnly": True}})
    sim.tick(1)
    assert run(sim, "c", "cat /mnt/top").stdout == "top\n"
    assert "Read-only file system" in run(sim, "c", "rm /mnt/top").stderr
    sim.store.delete("", "pods", "default", "c")
    # The volume goes: its data goes with it.
    sim.store.delete("", "pods", "default", "a")
    sim.store.delete("", "pods", "default", "b")
    sim.store.delete("", "persistentvolumes", None, "share-pv")
    sim.tick(1)
    assert "share-pv" not in sim.nodes.volume_data


def test_host_path_file_and_read_only_mounts(sim) -> None:
    node = sim.nodes.agent("node01")
    node.fs.write("/etc/app.conf", "level=debug\n")
    pod(sim, "reader", "node01", {"hostPath": {"path": "/etc/app.conf", "type": "File"}})
    pod(sim, "ro", "node01", {"hostPath": {"path": "/srv/data"}}, readOnly=True)
    sim.tick(1)
    assert run(sim, "reader", "cat /mnt").stdout == "level=debug\n"
    run(sim, "reader", "echo level=info > /mnt")
    assert node.fs.read("/etc/app.conf") == "level=info\n"
    assert node.fs.is_dir("/srv/data")  # created for a hostPath without a type
    denied = run(sim, "ro", "touch /mnt/x")
    assert denied.exit_code == 1 and "Read-only file system" in denied.stderr


def test_local_path_directory_goes_with_its_volume(sim) -> None:
    path = "/opt/local-path-provisioner/pvc-1_default_data"
    volume = {
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
        }
    }
    bound(sim, "data", volume, pv_name="pvc-1")
    pod(sim, "db", "node01", {"persistentVolumeClaim": {"claimName": "data"}})
    sim.tick(1)
    run(sim, "db", "echo row > /mnt/table")
    node = sim.nodes.agent("node01")
    assert node.fs.read(f"{path}/table") == "row\n"
    sim.store.delete("", "pods", "default", "db")
    sim.tick(1)
    assert node.fs.is_dir(path)  # the volume still exists: its data stays
    node.fs.mkdir("/opt/local-path-provisioner/kept-by-hand")
    sim.store.delete("", "persistentvolumes", None, "pvc-1")
    sim.tick(1)
    assert not node.fs.exists(path)
    assert node.fs.is_dir("/opt/local-path-provisioner/kept-by-hand")


def test_nginx_serves_a_page_written_on_the_node_through_a_host_path_volume(sim) -> None:
    # The classic task: a hostPath PV at /mnt/data, its claim mounted at nginx's root.
    volume = {
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/mnt/data"},
        }
    }
    bound(sim, "web", volume)
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "site", "namespace": "default"},
            "spec": {
                "nodeName": "node02",
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "volumeMounts": [{"name": "v", "mountPath": "/usr/share/nginx/html"}],
                    }
                ],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "web"}}],
            },
        },
    )
    sim.tick(1)
    sim.shell("node02").run("echo 'hello from node02' > /mnt/data/index.html")
    access = ContainerAccess(sim.nodes)
    runtime = sim.nodes.agent("node02").find_pod("default", "site")
    assert access.serve(runtime, 80, "/") == (200, "hello from node02\n")
