"""Image profiles: what a container of a given image has inside and what it serves.

The profile decides the executables a container has (`kubectl exec POD -- sheep` fails
the way runc does when a binary is missing), the files its image ships (nginx's welcome
page, httpd's "It works!") and the ports its default process answers on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# nginx's default document root page (nginx-X/html/index.html in the official image).
NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
# Apache httpd's default htdocs/index.html.
HTTPD_INDEX = "<html><body><h1>It works!</h1></body></html>\n"

# Executables of a busybox-style shell image (the applets the CKA tasks use).
BUSYBOX_TOOLS = frozenset(
    {
        "sh", "ash", "cat", "cd", "cp", "date", "echo", "env", "false", "grep", "head",
        "hostname", "id", "ls", "mkdir", "mv", "nc", "nslookup", "ping", "printenv", "ps",
        "pwd", "rm", "sed", "sleep", "sort", "tail", "tar", "touch", "true", "wc", "wget",
        "whoami", "find", "which", "uname", "test", "[", "expr", "seq", "kill", "exit",
        "export", ":", "dd", "yes", "xargs", "tee", "cut", "awk", "tr", "du", "df", "free",
        "top", "nproc", "chmod", "chown", "ln", "basename", "dirname", "mount", "netstat",
        "ifconfig", "ip", "traceroute", "telnet", "timeout", "base64", "md5sum", "sha256sum",
        "stat", "readlink", "realpath", "watch", "less", "more", "vi", "diff", "od", "gzip",
        "gunzip", "zcat", "nohup", "sync", "printf", "killall",
        "arping", "route", "uptime", "dmesg", "tty", "stty", "clear", "reset",
    }
)  # fmt: skip
# What an official image's entrypoint script is called.
ENTRYPOINT = "docker-entrypoint.sh"
# A Debian-based image (nginx, httpd, redis, ...) has bash and coreutils but no wget.
DEBIAN_TOOLS = (BUSYBOX_TOOLS | {"bash"}) - {"wget", "nc", "nslookup", "ping"}


@dataclass(frozen=True)
class ImageProfile:
    name: str
    tools: frozenset[str]
    # port -> (protocol, document root or a fixed reply)
    serves: dict[int, tuple[str, str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    os_release: str = "Debian GNU/Linux 12 (bookworm)"
    # Whether the image has an ENTRYPOINT: without one (busybox, alpine, ubuntu) a
    # pod's `args` are the command itself.
    entrypoint: bool = True


PROFILES: dict[str, ImageProfile] = {
    "nginx": ImageProfile(
        "nginx",
        DEBIAN_TOOLS | {"curl", "nginx", ENTRYPOINT},
        {80: ("http", "/usr/share/nginx/html")},
        {
            "/usr/share/nginx/html/index.html": NGINX_INDEX,
            "/usr/share/nginx/html/50x.html": "<!DOCTYPE html>\n<html>\n<head>\n"
            "<title>Error</title>\n</head>\n<body>\n<h1>An error occurred.</h1>\n</body>\n"
            "</html>\n",
            "/etc/nginx/conf.d/default.conf": "server {\n    listen       80;\n"
            "    listen  [::]:80;\n    server_name  localhost;\n\n    location / {\n"
            "        root   /usr/share/nginx/html;\n        index  index.html index.htm;\n"
            "    }\n}\n",
        },
    ),
    "httpd": ImageProfile(
        "httpd",
        DEBIAN_TOOLS | {"httpd", "httpd-foreground"},
        {80: ("http", "/usr/local/apache2/htdocs")},
        {"/usr/local/apache2/htdocs/index.html": HTTPD_INDEX},
    ),
    "busybox": ImageProfile("busybox", BUSYBOX_TOOLS, os_release="BusyBox", entrypoint=False),
    "alpine": ImageProfile(
        "alpine", BUSYBOX_TOOLS | {"apk"}, os_release="Alpine Linux v3.22", entrypoint=False
    ),
    "curlimages/curl": ImageProfile(
        "curlimages/curl", BUSYBOX_TOOLS | {"curl"}, os_release="Alpine Linux v3.22"
    ),
    "redis": ImageProfile(
        "redis", DEBIAN_TOOLS | {"redis-server", "redis-cli", ENTRYPOINT}, {6379: ("redis", "")}
    ),
    "mysql": ImageProfile(
        "mysql",
        DEBIAN_TOOLS | {"mysqld", "mysql", ENTRYPOINT},
        {3306: ("mysql", "")},
        os_release="Oracle Linux Server 9.6",
    ),
    "postgres": ImageProfile(
        "postgres", DEBIAN_TOOLS | {"postgres", "psql", ENTRYPOINT}, {5432: ("postgres", "")}
    ),
}
# The control-plane and add-on images are distroless: no shell, only their binaries
# (`kubectl exec etcd-controlplane -- sh` fails as upstream; `-- etcdctl ...` works).
for _name, _tools in (
    ("etcd", {"etcd", "etcdctl", "etcdutl"}),
    ("kube-apiserver", {"kube-apiserver"}),
    ("kube-controller-manager", {"kube-controller-manager"}),
    ("kube-scheduler", {"kube-scheduler"}),
    ("kube-proxy", {"kube-proxy", "iptables", "ip6tables", "ipset", "conntrack"}),
    ("coredns", {"coredns"}),
    ("pause", {"pause"}),
):
    PROFILES[_name] = ImageProfile(_name, frozenset(_tools), os_release="Debian GNU/Linux 12")
# An image the catalogue does not describe: a generic Linux userland with a shell.
GENERIC = ImageProfile("generic", BUSYBOX_TOOLS | {"bash", "curl"})
PROFILES["curl"] = PROFILES["curlimages/curl"]
PROFILES["ubuntu"] = ImageProfile(
    "ubuntu", DEBIAN_TOOLS, os_release="Ubuntu 24.04.3 LTS", entrypoint=False
)
PROFILES["debian"] = ImageProfile("debian", DEBIAN_TOOLS, entrypoint=False)
# Ingress and Gateway controllers (ingress-nginx's `controller`, NGINX Gateway Fabric):
# HTTP on 80 and 443; a request there is routed by app.sim.network.ingress, and what
# reaches the document root itself is nginx's 404 page.
PROFILES["controller"] = ImageProfile(
    "ingress-nginx/controller",
    BUSYBOX_TOOLS | {"nginx", "nginx-ingress-controller", "dumb-init", "curl"},
    {80: ("http", "/etc/nginx/html"), 443: ("http", "/etc/nginx/html"), 10254: ("http", "")},
    os_release="Alpine Linux v3.22",
)
PROFILES["nginx-gateway-fabric"] = ImageProfile(
    "nginx-gateway-fabric", frozenset({"gateway"}), os_release="Debian GNU/Linux 12"
)


def profile_for(repository: str) -> ImageProfile:
    """The profile of an image by its short repository name (`nginx`, `curlimages/curl`)."""
    return PROFILES.get(repository) or PROFILES.get(repository.rsplit("/", 1)[-1]) or GENERIC


# What a container of the image uses when its default process idles: (CPU millicores,
# memory MiB), about what `kubectl top` shows on a kubeadm cluster (an idle nginx
# worker a millicore and a few MiB, etcd and the API server far more). The usage
# model (`app.sim.nodes.metrics`) adds the load a container's command generates.
IDLE_USAGE: dict[str, tuple[int, int]] = {
    "nginx": (1, 4),
    "httpd": (1, 9),
    "busybox": (0, 1),
    "alpine": (0, 1),
    "curlimages/curl": (0, 1),
    "ubuntu": (0, 1),
    "debian": (0, 1),
    "redis": (3, 7),
    "mysql": (7, 380),
    "postgres": (3, 32),
    "etcd": (22, 48),
    "kube-apiserver": (48, 260),
    "kube-controller-manager": (14, 52),
    "kube-scheduler": (4, 22),
    "kube-proxy": (1, 16),
    "coredns": (2, 14),
    "metrics-server": (3, 19),
    "pause": (0, 0),
}
# An image the table does not know.
GENERIC_IDLE_USAGE = (1, 8)


def idle_usage(repository: str) -> tuple[int, int]:
    """(CPU millicores, memory MiB) an idle container of the image uses."""
    return (
        IDLE_USAGE.get(repository)
        or IDLE_USAGE.get(repository.rsplit("/", 1)[-1])
        or GENERIC_IDLE_USAGE
    )
