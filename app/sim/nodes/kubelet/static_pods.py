"""Static pods: manifests read from the static pod path, and their mirror pods."""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml

from app.sim.apiserver.defaults import apply_defaults
from app.sim.machinery import safe_yaml
from app.sim.machinery.clock import rfc3339_micro
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import shared_builtin_registry
from app.sim.nodes import components
from app.sim.nodes.kubelet.records import MIRROR_ANNOTATION, PodRuntime, _q
from app.sim.nodes.kubelet.state import AgentState

HASH_ANNOTATION = "kubernetes.io/config.hash"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
SEEN_ANNOTATION = "kubernetes.io/config.seen"
_POD_RT = shared_builtin_registry().by_plural("", "v1", "pods")


@lru_cache(maxsize=512)
def _parse_yaml(text: str) -> tuple[str, str]:
    """(JSON of the document, "") or ("", YAML error summary); cached because the
    kubelet re-reads its manifests on every sync."""
    try:
        # Bounded: a learner writes these files (an alias bomb, a node that contains
        # itself, deep nesting become a manifest error, not a stalled simulator).
        doc = safe_yaml.load_yaml(text)
    except yaml.YAMLError as exc:
        return "", components._yaml_summary(exc)
    return json.dumps(doc, default=str), ""


class ManifestError(yaml.YAMLError):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


def load_yaml(text: str) -> Any:
    """A fresh copy of the YAML document in `text`; ManifestError when it does not
    parse (its `summary` reads like Go's yaml errors)."""
    data, error = _parse_yaml(text)
    if error:
        raise ManifestError(error)
    return json.loads(data)


def _validate_mounts(spec: dict[str, Any]) -> None:
    volumes = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    problems = []
    for i, c in enumerate(spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        if not c.get("image"):
            problems.append(f"spec.containers[{i}].image: Required value")
        for j, m in enumerate(c.get("volumeMounts") or []):
            if isinstance(m, dict) and m.get("name") not in volumes:
                problems.append(
                    f'spec.containers[{i}].volumeMounts[{j}].name: Not found: "{m.get("name")}"'
                )
    if problems:
        raise ValueError(f"invalid pod: [{', '.join(problems)}]")


class StaticPods(AgentState):
    """Static pods from the manifest directory and their mirror pods in the API.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- static pods -------------------------------------------------------------------

    def read_manifests(self, now: float) -> dict[str, tuple[str, dict[str, Any]]]:
        """Static pods from the manifest directory: {full name: (file, pod)}. Files that
        do not parse are logged and skipped (so their pod goes away)."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        path = self.static_pod_path
        if not path or not self.fs.is_dir(path):
            if path and self.manifest_errors.get(path) is None:
                self.journal(now, "I", f'file.go:70] "Path does not exist, ignoring" path="{path}"')
            self.manifest_errors = {path: "missing"} if path else {}
            return out
        for name in self.fs.listdir(path):
            file = posixpath.join(path, name)
            # The file source skips hidden files and directories (config/file.go).
            if name.startswith(".") or not self.fs.is_file(file):
                continue
            text = self.fs.read(file)
            try:
                pod = load_yaml(text)
                if not isinstance(pod, dict) or not pod.get("kind"):
                    raise ManifestError("Object 'Kind' is missing in the document")
                if pod.get("kind") != "Pod":
                    raise ManifestError(f"the kind {pod.get('kind')!r} is not a Pod")
                meta = pod.setdefault("metadata", {})
                if not meta.get("name"):
                    # The kubelet names static pods NAME-NODE, so an empty name fails
                    # validation as "-NODE" (pkg/kubelet/config/common.go).
                    raise ValueError(
                        f'invalid pod: [metadata.name: Invalid value: "-{self.name}": a '
                        "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric "
                        "character]"
                    )
                spec = pod.get("spec")
                if not isinstance(spec, dict) or not spec.get("containers"):
                    raise ValueError("invalid pod: [spec.containers: Required value]")
                _validate_mounts(spec)
            except ManifestError as exc:
                errors[file] = (
                    f"{file}: couldn't parse as pod({exc.summary}), please check config file"
                )
                continue
            except ValueError as exc:
                errors[file] = str(exc)
                continue
            ns = meta.get("namespace") or "default"
            full = f"{ns}/{meta['name']}-{self.name}"
            if full in out:
                continue  # a second file with the same pod name is ignored
            out[full] = (file, pod)
        for file, message in errors.items():
            if self.manifest_errors.get(file) != message:
                self.journal(
                    now,
                    "E",
                    f'file.go:187] "Could not process manifest file" err="{_q(message)}" '
                    f'path="{file}"',
                )
        self.manifest_errors = errors
        return out

    def _static_hash(self, pod: dict[str, Any]) -> str:
        return hashlib.md5(
            (self.name + json.dumps(pod, sort_keys=True)).encode(), usedforsecurity=False
        ).hexdigest()

    def _sync_static_pods(self, now: float) -> None:
        manifests = self.read_manifests(now)
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        for _, (file, manifest) in manifests.items():
            wanted[self._static_hash(manifest)] = (file, manifest)
        for key, pod in list(self.pods.items()):
            if pod.static and key not in wanted and pod.terminating_since is None:
                self._begin_termination(pod, now, grace=0)
        for key, (file, manifest) in wanted.items():
            meta = manifest["metadata"]
            if key not in self.pods:
                spec = json.loads(json.dumps(manifest["spec"]))
                probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": spec}
                apply_defaults(probe, _POD_RT, creating=False)
                rt = PodRuntime(
                    key=key,
                    namespace=meta.get("namespace") or "default",
                    name=f"{meta['name']}-{self.name}",
                    spec=probe["spec"],
                    static=True,
                    source_file=file,
                    created=now,
                    labels=dict(meta.get("labels") or {}),
                    annotations=dict(meta.get("annotations") or {}),
                )
                self._admit(rt, now)
            if self.api_connected:
                self._ensure_mirror(self.pods[key], now)

    def _ensure_mirror(self, pod: PodRuntime, now: float) -> None:
        if pod.terminating_since is not None:
            return
        existing = self.store.get("", "pods", pod.namespace, pod.name)
        if existing is not None:
            annotations = existing["metadata"].get("annotations") or {}
            deleting = existing["metadata"].get("deletionTimestamp") is not None
            if annotations.get(MIRROR_ANNOTATION) == pod.key and not deleting:
                return
            if deleting and annotations.get(MIRROR_ANNOTATION) is not None:
                # Someone deleted the mirror pod: the kubelet removes it at once and
                # creates a new one, since the static pod still runs (kubelet syncPod:
                # a mirror pod being deleted is recreated).
                self._delete_api_pod(pod.namespace, pod.name)
                existing = None
            elif annotations.get(MIRROR_ANNOTATION) is not None:
                # A mirror pod of an older manifest: replace it.
                self._delete_api_pod(pod.namespace, pod.name)
            else:
                return  # an ordinary pod holds the name; upstream logs and retries
        node = self.store.get("", "nodes", None, self.name)
        annotations = dict(pod.annotations)
        annotations.update(
            {
                HASH_ANNOTATION: pod.key,
                MIRROR_ANNOTATION: pod.key,
                SEEN_ANNOTATION: rfc3339_micro(datetime.fromtimestamp(pod.created, UTC)).replace(
                    "Z", "000Z"
                ),
                SOURCE_ANNOTATION: "file",
            }
        )
        meta: dict[str, Any] = {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": dict(pod.labels),
            "annotations": annotations,
        }
        if node is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": self.name,
                    "uid": node["metadata"]["uid"],
                    "controller": True,
                }
            ]
        spec = json.loads(json.dumps(pod.spec))
        spec["nodeName"] = self.name
        # The kubelet makes static pods tolerate every NoExecute taint (pkg/kubelet/config).
        tolerations = spec.setdefault("tolerations", [])
        if {"effect": "NoExecute", "operator": "Exists"} not in tolerations:
            tolerations.append({"effect": "NoExecute", "operator": "Exists"})
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
        }
        # The API server's create-time defaults give the mirror pod its QoS class.
        apply_defaults(obj, _POD_RT, creating=True)
        obj["status"] = self._pod_status(pod, now, obj.get("status"))
        with contextlib.suppress(ApiError):
            self.store.create("", "pods", obj)
