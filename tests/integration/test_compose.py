"""docker/compose.yaml and docker/Dockerfile, checked without a container engine: the
structure is loaded with PyYAML and every certprep command is parsed by the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from app.cli import _attach, cli
from app.config import PROJECT_ROOT, env_var_for, load_settings

DOCKER = PROJECT_ROOT / "docker"
CERTPREP_ROLES = {"migrate", "content", "simulator", "web", "web-stream", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def root_command() -> click.Group:
    _attach()
    return cli


def _resolve(root: click.Group, argv: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = root
    args = list(argv)
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    return command, args


def test_compose_has_every_role_both_servers_and_the_proxy(services):
    assert set(services) == CERTPREP_ROLES | {"postgres", "redis", "proxy"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_every_role_runs_the_same_image(services):
    for name in CERTPREP_ROLES:
        service = services[name]
        assert service["image"] == "certprep:latest", name
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name


def test_every_role_command_is_a_valid_certprep_command(services, root_command):
    expected = {
        "migrate": "upgrade",
        "content": "import",
        "simulator": "serve",
        "web": "serve",
        "web-stream": "serve",
        "worker": "worker",
        "beat": "beat",
    }
    for name, leaf in expected.items():
        argv = services[name]["command"]
        if name == "simulator" and "sim" not in root_command.commands:
            # The simulator's command is registered by its own module; until it is,
            # check the documented spelling.
            assert argv[:2] == ["sim", "serve"]
            continue
        command, rest = _resolve(root_command, argv)
        assert command.name == leaf, f"{name}: {argv} does not name a certprep command"
        # Parses options and arguments exactly as a run would, without running it.
        command.make_context(" ".join(argv), rest)


def test_web_binds_all_interfaces_on_the_port_the_proxy_uses(services):
    command = services["web"]["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    # Reachable on the compose network only: clients come through the proxy.
    assert "ports" not in services["web"]
    assert services["web"]["expose"] == [port]
    assert f":{port}/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert f"server web:{port};" in _nginx_text()


def test_requests_that_wait_go_to_the_gevent_server(services):
    command = services["web-stream"]["command"]
    assert command[command.index("--worker-class") + 1] == "gevent"
    port = command[command.index("--port") + 1]
    assert "ports" not in services["web-stream"]
    assert services["web-stream"]["expose"] == [port]
    assert f"server web-stream:{port};" in _nginx_text()
    assert services["web-stream"]["environment"] == services["web"]["environment"]


def _nginx_text() -> str:
    return (DOCKER / "nginx.conf").read_text()


def _nginx_directives() -> list[tuple[str, ...]]:
    """Every simple directive of docker/nginx.conf as a tuple of words (comments out),
    after checking that blocks are balanced and every statement ends with `;`."""
    text = "\n".join(line.split("#", 1)[0] for line in _nginx_text().splitlines())
    directives: list[tuple[str, ...]] = []
    depth = 0
    statement = ""
    for char in text:
        if char == "{":
            depth += 1
            statement = ""
        elif char == "}":
            assert not statement.strip(), f"missing ';' before '}}': {statement.strip()!r}"
            depth -= 1
            assert depth >= 0, "unbalanced '}' in nginx.conf"
        elif char == ";":
            directives.append(tuple(statement.split()))
            statement = ""
        else:
            statement += char
    assert depth == 0, "unbalanced '{' in nginx.conf"
    assert not statement.strip(), f"statement without ';': {statement.strip()!r}"
    return directives


def test_the_proxy_fronts_web_with_its_config_file(services):
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    mount = proxy["volumes"][0].split(":")
    assert mount[1:] == ["/etc/nginx/nginx.conf", "ro"]
    assert (DOCKER / mount[0]).resolve() == (DOCKER / "nginx.conf").resolve()
    published, inside = proxy["ports"][0].split(":")
    assert published == "8000"  # where clients found the API before the proxy
    directives = _nginx_directives()
    assert ("listen", inside) in directives
    assert f":{inside}/healthz" in " ".join(proxy["healthcheck"]["test"])
    assert proxy["depends_on"] == {
        "web": {"condition": "service_healthy"},
        "web-stream": {"condition": "service_healthy"},
    }
    assert proxy["restart"] == "unless-stopped"
    assert services["web"]["environment"]["CERTPREP_PROXY_HOPS"] == "1"


def _seconds(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(value[:-1]) * units[value[-1]] if value[-1] in units else float(value)


def test_the_proxy_buffers_requests_and_bounds_slow_clients():
    settings: dict[str, list[str]] = {}
    for words in _nginx_directives():
        settings.setdefault(words[0], []).append(" ".join(words[1:]))
    # A request head must arrive quickly; a stalled body or reader is dropped.
    assert 0 < _seconds(settings["client_header_timeout"][0]) <= 30
    assert 0 < _seconds(settings["client_body_timeout"][0]) <= 60
    assert 0 < _seconds(settings["send_timeout"][0]) <= 60
    assert 0 < _seconds(settings["keepalive_timeout"][0]) <= 75
    # Bodies are limited and read whole before the web role sees the request.
    assert settings["client_max_body_size"][0].endswith("m")
    assert int(settings["client_max_body_size"][0][:-1]) <= 10
    assert "on" in settings["proxy_request_buffering"]
    assert "on" in settings["proxy_buffering"]
    assert all(_seconds(v) <= 10 for v in settings["proxy_connect_timeout"])
    # Answers from the web role are awaited longer than its own request timeout.
    from app.cli.serve import GUNICORN_REQUEST_TIMEOUT

    assert _seconds(settings["proxy_read_timeout"][0]) > GUNICORN_REQUEST_TIMEOUT
    assert "http://certprep_web" in settings["proxy_pass"]


def test_long_running_services_have_health_checks(services):
    for name in ("postgres", "redis", "simulator", "web", "worker", "beat"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check["interval"] and check["timeout"] and check["retries"] >= 1, name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][1]
    # `$$` is compose's escape: the container's shell expands $HOSTNAME.
    assert "celery@$$HOSTNAME" in services["worker"]["healthcheck"]["test"][1]


def test_start_order_waits_for_migrations_and_healthy_servers(services):
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    assert conditions("migrate") == {"postgres": "service_healthy"}
    assert conditions("content") == {"migrate": "service_completed_successfully"}
    for name in ("web", "worker"):
        assert conditions(name) == {
            "migrate": "service_completed_successfully",
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "simulator": "service_healthy",
        }
    assert conditions("beat")["redis"] == "service_healthy"
    for name in ("migrate", "content"):
        assert services[name]["restart"] == "no"
    for name in ("web", "worker", "beat", "simulator", "postgres", "redis"):
        assert services[name]["restart"] == "unless-stopped"


def test_roles_use_postgresql_and_redis_with_settings_certprep_accepts(services):
    env = dict(services["web"]["environment"])
    for name in CERTPREP_ROLES:
        assert services[name]["environment"] == env, name
    assert env["CERTPREP_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["CERTPREP_DATABASE_URL"]
    assert env["CERTPREP_BROKER_URL"] == "redis://redis:6379/0"
    assert env["CERTPREP_SIM_URLS"] == "https://simulator:6443"
    # Substitute compose's ${VAR...} expressions and load the settings for real.
    resolved = {key: re.sub(r"\$\{[^}]+\}", "x" * 40, value) for key, value in env.items()}
    settings = load_settings(environ=resolved)
    assert settings.env == "production"
    assert settings.sim_urls == ("https://simulator:6443",)
    readme = (PROJECT_ROOT / "README.md").read_text()
    for key in env:
        assert f"`{key}`" in readme, f"{key} is not in the README's configuration table"


def test_the_readme_documents_every_setting_variable():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for setting in load_settings(environ={}).as_dict():
        variable = env_var_for(setting)
        if variable:
            assert f"`{variable}`" in readme, variable


def test_the_secrets_must_be_supplied(services):
    env = services["web"]["environment"]
    assert ":?" in env["CERTPREP_SECRET_KEY"]
    assert ":?" in env["CERTPREP_SIM_ADMIN_TOKEN"]


def test_state_is_written_under_the_instance_volume(services):
    # The image's user owns /var/lib/certprep only; the simulator's default state folder
    # (~/.certprep/sim) would not be writable.
    env = services["simulator"]["environment"]
    assert env["CERTPREP_INSTANCE_DIR"] == "/var/lib/certprep"
    assert env["CERTPREP_SIM_STATE_DIR"].startswith("/var/lib/certprep/")
    dockerfile = (DOCKER / "Dockerfile").read_text()
    # Created in the image so a new named volume mounted there inherits the owner.
    assert "mkdir -p /var/lib/certprep/sim" in dockerfile
    assert "chown -R certprep:certprep /var/lib/certprep" in dockerfile
    assert 'VOLUME ["/var/lib/certprep"]' in dockerfile


def test_web_and_worker_trust_the_simulator_ca_from_its_shared_volume(services, compose):
    state = services["simulator"]["environment"]["CERTPREP_SIM_STATE_DIR"]
    ca_file = services["web"]["environment"]["CERTPREP_SIM_CA_FILE"]
    assert ca_file == f"{state}/ca.crt"
    assert services["simulator"]["volumes"] == [f"sim-state:{state}"]
    for name in ("web", "worker"):
        assert services[name]["volumes"] == [f"sim-state:{state}:ro"], name
    assert "sim-state" in compose["volumes"]
    command = services["simulator"]["command"]
    # The name in the certificate is the host name the roles connect to.
    assert command[command.index("--advertise-host") + 1] == "simulator"
    assert services["web"]["environment"]["CERTPREP_SIM_URLS"] == "https://simulator:6443"


def test_the_dockerfile_has_one_entrypoint_and_the_files_the_roles_need():
    text = (DOCKER / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("FROM python:3.11") for line in instructions)
    assert 'ENTRYPOINT ["certprep"]' in instructions
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]' in instructions
    copied = {line.split()[1] for line in instructions if line.startswith("COPY ")}
    assert {"app", "migrations", "questions", "labs"} <= copied
    for folder in ("app", "migrations", "questions", "labs"):
        assert (PROJECT_ROOT / folder).is_dir(), folder
    assert "pip install -e ." in text  # the README's install, so migrations/ is found
    assert any(line.startswith("USER ") and "root" not in line for line in instructions)


def test_the_build_context_leaves_out_local_state():
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "instance"} <= set(ignored)


def test_the_files_are_where_the_readme_says():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "docker compose -f docker/compose.yaml" in readme
    assert Path(DOCKER / "compose.yaml").is_file()


def test_every_file_the_readme_links_exists():
    readme = (PROJECT_ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert "docs/operations.md" in targets
    missing = [target for target in targets if not (PROJECT_ROOT / target).exists()]
    assert missing == []


def test_the_readme_shows_the_two_setup_commands_and_the_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]"\ncertprep up\n' in readme
    assert "```sh\npytest\n```" in readme
