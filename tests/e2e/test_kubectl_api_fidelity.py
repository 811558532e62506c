"""API fidelity seen through the real kubectl: image pulls against the simulator's
registry catalogue, and the behaviours of less common kinds and fields."""

from __future__ import annotations

import json

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def _advance(sim_cluster: SimCluster, seconds: float) -> None:
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, seconds)


def _events(kubectl, name: str) -> list[tuple[str, str]]:
    items = kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
    ).json()["items"]
    items.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
    return [(e["reason"], e["message"]) for e in items]


def _waiting(kubectl, name: str) -> dict:
    pod = kubectl("get", "pod", name, "-o", "json").json()
    return pod["status"]["containerStatuses"][0]["state"].get("waiting") or {}


@pytest.mark.parametrize(
    ("image", "tail"),
    [
        (
            "ngnix",
            'failed to resolve reference "docker.io/library/ngnix:latest": pull access '
            "denied, repository does not exist or may require authorization: server "
            "message: insufficient_scope: authorization failed",
        ),
        ("nginx:1.91", "docker.io/library/nginx:1.91: not found"),
        ("nginx:latestt", "docker.io/library/nginx:latestt: not found"),
        (
            "registry.k8s.io/kube-scheduler:v1.99.0",
            "registry.k8s.io/kube-scheduler:v1.99.0: not found",
        ),
    ],
)
def test_an_image_the_registry_lacks_fails_to_pull(kubectl, sim_cluster, image, tail) -> None:
    kubectl("run", "bad", f"--image={image}")
    _advance(sim_cluster, 2)
    events = _events(kubectl, "bad")
    assert ("Pulling", f'Pulling image "{image}"') in events
    failed = [m for r, m in events if r == "Failed" and m.startswith("Failed to pull image")]
    assert failed and failed[0].startswith(f'Failed to pull image "{image}": ')
    assert failed[0].endswith(tail)
    assert ("Failed", "Error: ErrImagePull") in events
    _advance(sim_cluster, 15)
    waiting = _waiting(kubectl, "bad")
    assert waiting["reason"] == "ImagePullBackOff"
    assert waiting["message"].startswith(f'Back-off pulling image "{image}"')
    assert "ImagePullBackOff" in kubectl("get", "pod", "bad").stdout


def test_catalogue_images_pull_per_image_pull_policy(kubectl, sim_cluster) -> None:
    kubectl("run", "first", "--image=nginx:1.27-alpine")
    _advance(sim_cluster, 3)
    node = kubectl("get", "pod", "first", "-o", "jsonpath={.spec.nodeName}").stdout
    pulled = [m for r, m in _events(kubectl, "first") if r == "Pulled"]
    assert pulled[0].startswith('Successfully pulled image "nginx:1.27-alpine" in ')
    # The same image on the same node with IfNotPresent: no pull.
    kubectl("run", "second", "--image=nginx:1.27-alpine", f"--overrides={_on(node)}")
    # Always pulls even when the image is there; Never refuses an absent image.
    kubectl(
        "run", "third", "--image=nginx:1.27-alpine", "--image-pull-policy=Always",
        f"--overrides={_on(node)}",
    )  # fmt: skip
    kubectl("run", "fourth", "--image=redis:7.2", "--image-pull-policy=Never")
    _advance(sim_cluster, 3)
    assert [r for r, _ in _events(kubectl, "second") if r.startswith("Pull")] == ["Pulled"]
    assert ("Pulled", 'Container image "nginx:1.27-alpine" already present on machine') in (
        _events(kubectl, "second")
    )
    third = [r for r, _ in _events(kubectl, "third")]
    assert "Pulling" in third and "Pulled" in third
    assert _waiting(kubectl, "fourth") == {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "redis:7.2" is not present with pull policy of Never',
    }
    for name in ("first", "second", "third"):
        phase = kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}").stdout
        assert phase == "Running", name


def _on(node: str) -> str:
    return json.dumps({"spec": {"nodeName": node}})


def _node_ports(kubectl, name: str) -> list:
    ports = kubectl("get", "svc", name, "-o", "json").json()["spec"]["ports"]
    return [p.get("nodePort") for p in ports]


def test_a_type_change_allocates_and_drops_node_ports(kubectl, tmp_path) -> None:
    kubectl("create", "service", "clusterip", "web", "--tcp=80:80,443:443")
    cluster_ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert _node_ports(kubectl, "web") == [None, None]
    kubectl("patch", "svc", "web", "-p", '{"spec": {"type": "NodePort"}}')
    first = _node_ports(kubectl, "web")
    assert all(30000 <= p <= 32767 for p in first) and len(set(first)) == 2
    assert f"80:{first[0]}/TCP" in kubectl("get", "svc", "web").stdout
    # Back to ClusterIP: the allocated ports go; the clusterIP stays.
    kubectl("patch", "svc", "web", "-p", '{"spec": {"type": "ClusterIP"}}')
    assert _node_ports(kubectl, "web") == [None, None]
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: LoadBalancer\n"
        "  ports: [{name: http, port: 80}, {name: https, port: 443}]\n"
    )
    kubectl("apply", "-f", str(manifest))
    service = kubectl("get", "svc", "web", "-o", "json").json()["spec"]
    assert service["clusterIP"] == cluster_ip
    assert all(p["nodePort"] for p in service["ports"])
    assert service["allocateLoadBalancerNodePorts"] is True


def test_a_replication_controller_keeps_its_pods(kubectl, sim_cluster, tmp_path) -> None:
    manifest = tmp_path / "rc.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: legacy}\nspec:\n"
        "  replicas: 3\n  template:\n    metadata: {labels: {app: legacy}}\n"
        "    spec: {containers: [{name: web, image: nginx:1.27}]}\n"
    )
    kubectl("apply", "-f", str(manifest))
    _advance(sim_cluster, 3)
    rc = kubectl("get", "rc", "legacy", "-o", "json").json()
    assert rc["spec"]["selector"] == {"app": "legacy"}
    assert rc["status"]["replicas"] == 3 and rc["status"]["readyReplicas"] == 3
    pods = kubectl("get", "pods", "-l", "app=legacy", "-o", "json").json()["items"]
    assert len(pods) == 3 and all(p["metadata"]["name"].startswith("legacy-") for p in pods)
    owner = pods[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == (
        "ReplicationController", "legacy", True,
    )  # fmt: skip
    kubectl("scale", "rc", "legacy", "--replicas=1")
    _advance(sim_cluster, 2)
    assert len(kubectl("get", "pods", "-l", "app=legacy", "-o", "name").lines) == 1
    reasons = [r for r, _ in _events(kubectl, "legacy")]
    assert reasons.count("SuccessfulCreate") == 3 and reasons.count("SuccessfulDelete") == 2


def test_an_indexed_job_runs_each_index_once(kubectl, sim_cluster, tmp_path) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: shard}\nspec:\n"
        "  completions: 3\n  parallelism: 2\n  completionMode: Indexed\n  template:\n"
        "    spec:\n      restartPolicy: Never\n      containers:\n"
        "      - {name: work, image: busybox:1.36,"
        " command: [sh, -c, 'echo index $JOB_COMPLETION_INDEX']}\n"
    )
    kubectl("apply", "-f", str(manifest))
    _advance(sim_cluster, 10)
    pods = kubectl("get", "pods", "-l", "job-name=shard", "-o", "json").json()["items"]
    by_index = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods
    }
    assert sorted(by_index) == ["0", "1", "2"]
    for index, pod in by_index.items():
        name = pod["metadata"]["name"]
        assert name.startswith(f"shard-{index}-")
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert pod["spec"]["hostname"] == f"shard-{index}"
        assert kubectl("logs", name).stdout == f"index {index}\n"
    job = kubectl("get", "job", "shard", "-o", "json").json()
    assert job["status"]["completedIndexes"] == "0-2"
    assert job["status"]["succeeded"] == 3
    assert "Complete" in kubectl("get", "job", "shard").stdout


def _create_secret(kubectl, tmp_path, name: str, kind: str, data: str) -> str:
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: {kind}\n{data}"
    )
    result = kubectl("apply", "-f", str(manifest), check=False)
    assert result.returncode == 1
    return result.stderr.strip()


def test_typed_secrets_need_their_keys(kubectl, tmp_path) -> None:
    assert _create_secret(
        kubectl, tmp_path, "ssh", "kubernetes.io/ssh-auth", "stringData: {user: me}\n"
    ) == (
        'The Secret "ssh" is invalid: data[ssh-privatekey]: Required value'
    )  # fmt: skip
    tls = _create_secret(kubectl, tmp_path, "tls", "kubernetes.io/tls", "data: {tls.crt: eA==}\n")
    assert tls == 'The Secret "tls" is invalid: data[tls.key]: Required value'
    basic = _create_secret(kubectl, tmp_path, "basic", "kubernetes.io/basic-auth", "data: {}\n")
    assert basic == (
        'The Secret "basic" is invalid: \n* data[username]: Required value\n'
        "* data[password]: Required value"
    )
    docker = _create_secret(
        kubectl, tmp_path, "reg", "kubernetes.io/dockerconfigjson",
        "stringData: {.dockerconfigjson: 'not json'}\n",
    )  # fmt: skip
    assert docker == (
        'The Secret "reg" is invalid: data[.dockerconfigjson]: Invalid value: '
        "\"<secret contents redacted>\": invalid character 'n' looking for beginning of value"
    )
    # With their keys they are created; `kubectl create secret` sends them so.
    kubectl("create", "secret", "generic", "ok", "--type=kubernetes.io/basic-auth",
            "--from-literal=username=admin")  # fmt: skip
    kubectl("create", "secret", "docker-registry", "pull", "--docker-server=r.example.com",
            "--docker-username=u", "--docker-password=p")  # fmt: skip


def test_the_kubelet_rejects_a_pod_pinned_to_a_node_it_does_not_fit(kubectl, sim_cluster) -> None:
    kubectl("label", "node", "node01", "disk=hdd")
    kubectl(
        "run", "picky", "--image=nginx",
        '--overrides={"spec": {"nodeName": "node01", "nodeSelector": {"disk": "ssd"}}}',
    )  # fmt: skip
    kubectl(
        "run", "greedy", "--image=nginx",
        '--overrides={"spec": {"nodeName": "node01", "containers": [{"name": "greedy",'
        ' "image": "nginx", "resources": {"requests": {"cpu": "3"}}}]}}',
    )  # fmt: skip
    _advance(sim_cluster, 2)
    picky = kubectl("get", "pod", "picky", "-o", "json").json()["status"]
    assert picky["phase"] == "Failed" and picky["reason"] == "NodeAffinity"
    assert picky["message"] == (
        "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node "
        "affinity/selector"
    )
    greedy = kubectl("get", "pod", "greedy", "-o", "json").json()["status"]
    assert greedy["phase"] == "Failed" and greedy["reason"] == "OutOfcpu"
    assert greedy["message"].startswith(
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: "
    )
    assert greedy["message"].endswith(", capacity: 2000")
    table = kubectl("get", "pods").stdout
    assert "NodeAffinity" in table and "OutOfcpu" in table
    assert ("OutOfcpu", greedy["message"].removeprefix("Pod was rejected: ")) in _events(
        kubectl, "greedy"
    )


def test_logs_honour_time_and_size_options(kubectl, sim_cluster) -> None:
    kubectl(
        "run", "talker", "--image=busybox:1.36", "--restart=Never", "--",
        "sh", "-c", "echo one; sleep 5; echo two; sleep 3600",
    )  # fmt: skip
    _advance(sim_cluster, 10)
    stamped = kubectl("logs", "talker", "--timestamps").lines
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two"]
    first, second = (line.split(" ", 1)[0] for line in stamped)
    assert len(first) == len("2026-01-01T00:00:00.000000000Z") and first.endswith("Z")
    assert first < second
    assert kubectl("logs", "talker", "--since=7s").stdout == "two\n"
    assert kubectl("logs", "talker", f"--since-time={second}").stdout == "two\n"
    assert kubectl("logs", "talker", "--tail=1", "--timestamps").stdout == f"{stamped[1]}\n"
    assert kubectl("logs", "talker", "--limit-bytes=5").stdout == "one\nt"
    refused = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/talker/log?sinceSeconds=0",
                      check=False)  # fmt: skip
    assert refused.returncode == 1 and "must be greater than 0" in refused.stderr


def test_a_fresh_node_has_its_startup_events_in_order(kubectl) -> None:
    items = kubectl(
        "get", "events", "--field-selector", "involvedObject.kind=Node,involvedObject.name=node01",
        "-o", "json",
    ).json()["items"]  # fmt: skip
    items.sort(key=lambda e: (e["lastTimestamp"], e["metadata"]["name"]))
    kubelet = [e["reason"] for e in items if e["source"]["component"] == "kubelet"]
    assert kubelet == [
        "Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID",
        "NodeAllocatableEnforced", "NodeReady",
    ]  # fmt: skip
    registered = [e for e in items if e["source"]["component"] == "node-controller"]
    assert [e["message"] for e in registered] == [
        "Node node01 event: Registered Node node01 in Controller"
    ]
    described = kubectl("describe", "node", "node01").stdout
    assert "Starting kubelet." in described
    assert "Node node01 status is now: NodeHasSufficientMemory" in described


def test_service_account_tokens_are_rs256_and_verify_with_sa_pub(kubectl, sim_cluster) -> None:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    token = kubectl("create", "token", "default").stdout.strip()
    header_b64, body_b64, signature_b64 = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header = json.loads(decode(header_b64))
    assert header["alg"] == "RS256" and len(header["kid"]) == 43
    node = sim_cluster.cluster.control_plane.nodes.agents["controlplane"]
    public = serialization.load_pem_public_key(node.fs.read("/etc/kubernetes/pki/sa.pub").encode())
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The kid is the base64url SHA-256 of the DER public key.
    sha = hashes.Hash(hashes.SHA256())
    sha.update(der)
    assert header["kid"] == base64.urlsafe_b64encode(sha.finalize()).rstrip(b"=").decode()
    public.verify(  # raises InvalidSignature on a mismatch
        decode(signature_b64),
        f"{header_b64}.{body_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims = json.loads(decode(body_b64))
    assert claims["sub"] == "system:serviceaccount:default:default"
    whoami = kubectl("auth", "whoami", f"--token={token}", "-o", "json").json()
    assert whoami["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"


def test_kubeadm_bootstrap_rbac_and_controller_accounts(kubectl) -> None:
    binding = kubectl("get", "clusterrolebinding", "kubeadm:get-nodes", "-o", "json").json()
    assert binding["roleRef"]["name"] == "kubeadm:get-nodes"
    assert binding["subjects"][0]["name"] == "system:bootstrappers:kubeadm:default-node-token"
    for name in ("kubeadm:kubelet-bootstrap", "kubeadm:node-proxier", "kubeadm:cluster-admins"):
        kubectl("get", "clusterrolebinding", name)
    roles = kubectl("get", "roles", "-n", "kube-system", "-o", "name").lines
    assert "role.rbac.authorization.k8s.io/kubeadm:nodes-kubeadm-config" in roles
    accounts = kubectl("get", "sa", "-n", "kube-system", "-o", "name").lines
    for name in ("deployment-controller", "replicaset-controller", "node-controller"):
        assert f"serviceaccount/{name}" in accounts
    # The controller's account may do what its bootstrap role grants, and no more.
    who = "--as=system:serviceaccount:kube-system:deployment-controller"
    assert kubectl("auth", "can-i", "create", "replicasets.apps", who).stdout.strip() == "yes"
    denied = kubectl("auth", "can-i", "create", "secrets", who, check=False)
    assert denied.stdout.strip() == "no"


def _csr_manifest(tmp_path, name: str, signer: str) -> tuple[str, object]:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dev"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    encoded = base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()
    path = tmp_path / f"{name}-csr.yaml"
    path.write_text(
        f"apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n"
        f"metadata: {{name: {name}}}\nspec:\n  request: {encoded}\n  signerName: {signer}\n"
        "  expirationSeconds: 86400\n  usages: [client auth]\n"
    )
    key_path = tmp_path / f"{name}.key"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return str(path), key_path


def test_a_user_from_an_approved_csr_can_log_in(kubectl, sim_cluster, tmp_path) -> None:
    import base64

    manifest, key_path = _csr_manifest(tmp_path, "jane", "kubernetes.io/kube-apiserver-client")
    kubectl("apply", "-f", manifest)
    listed = kubectl("get", "csr", "jane").stdout
    assert "kubernetes.io/kube-apiserver-client" in listed and "Pending" in listed
    assert "kubernetes-admin" in listed and "24h" in listed
    kubectl("certificate", "approve", "jane")
    _advance(sim_cluster, 1)
    assert "Approved,Issued" in kubectl("get", "csr", "jane").stdout
    cert = kubectl("get", "csr", "jane", "-o", "jsonpath={.status.certificate}").stdout
    cert_path = tmp_path / "jane.crt"
    cert_path.write_bytes(base64.b64decode(cert))
    kubectl("config", "set-credentials", "jane", f"--client-certificate={cert_path}",
            f"--client-key={key_path}", "--embed-certs=true")  # fmt: skip
    kubectl("config", "set-context", "jane", "--cluster=" + _cluster_name(kubectl), "--user=jane")
    who = kubectl("auth", "whoami", "--context=jane", "-o", "json").json()["status"]["userInfo"]
    assert who["username"] == "jane" and "dev" in who["groups"]
    denied = kubectl("get", "pods", "--context=jane", check=False)
    assert 'User "jane" cannot list resource "pods"' in denied.stderr
    kubectl("create", "rolebinding", "jane-view", "--clusterrole=view", "--user=jane")
    assert kubectl("get", "pods", "--context=jane").returncode == 0
    # A denied request gets no certificate.
    other, _ = _csr_manifest(tmp_path, "mallory", "kubernetes.io/kube-apiserver-client")
    kubectl("apply", "-f", other)
    kubectl("certificate", "deny", "mallory")
    _advance(sim_cluster, 1)
    assert "Denied" in kubectl("get", "csr", "mallory").stdout
    assert kubectl("get", "csr", "mallory", "-o", "jsonpath={.status.certificate}").stdout == ""


def _cluster_name(kubectl) -> str:
    return kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].name}").stdout


def test_new_api_groups_are_served_and_printed(kubectl, tmp_path) -> None:
    schemas = kubectl("get", "flowschemas").stdout
    assert "catch-all" in schemas and "workload-low" in schemas and "ByNamespace" in schemas
    assert schemas.splitlines()[0].split() == [
        "NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"
    ]  # fmt: skip
    levels = kubectl("get", "prioritylevelconfigurations").stdout
    assert "exempt" in levels and "Limited" in levels
    manifest = tmp_path / "kinds.yaml"
    manifest.write_text(
        "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\n"
        "handler: runsc\n---\n"
        "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: ebs.csi.aws.com}\n"
        "spec: {attachRequired: true, podInfoOnMount: false}\n---\n"
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
        "metadata: {name: replicas}\nspec:\n  matchConstraints:\n    resourceRules:\n"
        "    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], "
        "resources: [deployments]}\n  validations:\n  - {expression: object.spec.replicas <= 5}\n"
        "---\napiVersion: admissionregistration.k8s.io/v1\n"
        "kind: ValidatingAdmissionPolicyBinding\nmetadata: {name: replicas}\n"
        "spec: {policyName: replicas, validationActions: [Deny]}\n"
    )
    kubectl("apply", "-f", str(manifest))
    assert "runsc" in kubectl("get", "runtimeclass", "gvisor").stdout
    assert "ebs.csi.aws.com" in kubectl("get", "csidrivers").stdout
    policy = kubectl("get", "validatingadmissionpolicy", "replicas").stdout
    assert policy.splitlines()[1].split()[:3] == ["replicas", "1", "<none>"]
    assert "replicas" in kubectl("get", "validatingadmissionpolicybindings").stdout
    resources = kubectl("api-resources", "-o", "name").lines
    for name in (
        "certificatesigningrequests.certificates.k8s.io",
        "flowschemas.flowcontrol.apiserver.k8s.io",
        "runtimeclasses.node.k8s.io",
        "csinodes.storage.k8s.io",
        "volumeattachments.storage.k8s.io",
        "validatingadmissionpolicies.admissionregistration.k8s.io",
    ):
        assert name in resources
    core = kubectl("get", "--raw", "/api/v1").json()["resources"]
    assert "pods/binding" in [r["name"] for r in core]
