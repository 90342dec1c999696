"""The deployment files, checked without a Docker engine: docker-compose.yml (and the Temporal Cloud override)
parse, every command a container runs exists in the package, every variable they use is documented in
.env.example and every RINGFLOW_* variable there is a real setting, long-running services have health checks
on the ports the processes really listen on, start-up order is sound, and the Dockerfile ships the package."""

import importlib
import importlib.util
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from cli.app import app as cli_app
from infra.codec import CODEC_SERVER_PATH
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.cloud.yml")
RINGFLOW_IMAGE = "ringflow:local"
NOT_FROM_SETTINGS = {
    "COMPOSE_PROFILES": "read by docker compose itself",
}
"""Variables .env.example may document that neither compose interpolates nor Settings reads."""

_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


class _ComposeLoader(yaml.SafeLoader):
    """YAML with compose's merge tags (``!reset``, ``!override``), read as their plain values."""


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


for _tag in ("!reset", "!override"):
    _ComposeLoader.add_constructor(_tag, _plain)


def _compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    return yaml.load((ROOT / name).read_text(), Loader=_ComposeLoader)


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _ringflow_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in _services().items() if service.get("image") == RINGFLOW_IMAGE}


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _is_one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")).startswith(("on-failure", "no"))


def _env_example_names() -> set[str]:
    return set(_ASSIGNMENT.findall((ROOT / ".env.example").read_text()))


def _settings_env_names() -> set[str]:
    """Every environment name Settings reads: RINGFLOW_<FIELD>, plus the aliases (DATABASE_URL, …)."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"RINGFLOW_{field_name.upper()}")
        alias = field.validation_alias
        names.update(str(choice) for choice in getattr(alias, "choices", []))
    return names


def _subcommands(command: Any) -> dict[str, Any]:
    """A command group's subcommands by name; none for a command."""
    return getattr(command, "commands", {})


def _click_command(path: list[str]) -> Any:
    """The ``ringflow`` subcommand at ``path`` (e.g. ``["db", "upgrade"]``); fails when there is none."""
    command = typer.main.get_command(cli_app)
    for word in path:
        assert word in _subcommands(command), f"`ringflow {' '.join(path)}`: no subcommand {word!r}"
        command = _subcommands(command)[word]
    assert not _subcommands(command), f"`ringflow {' '.join(path)}` names a group, not a command"
    return command


def _ringflow_words(words: list[str]) -> list[str]:
    """The leading words of a `ringflow …` line that name (sub)commands; what follows is options and arguments."""
    path: list[str] = []
    command = typer.main.get_command(cli_app)
    for word in words:
        if word not in _subcommands(command):
            break
        path.append(word)
        command = _subcommands(command)[word]
    return path


def _healthcheck_port(service: dict[str, Any]) -> int | None:
    test = " ".join(service["healthcheck"]["test"])
    url = re.search(r"http://[^'\" ]+", test)
    return urlsplit(url.group()).port if url else None


# ---- docker-compose.yml ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_parse_into_services(name: str) -> None:
    assert _compose(name)["services"]


def test_every_ringflow_command_is_a_real_cli_command() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["ringflow"] == "cli:main"
    ringflow_commands = [
        _command(service)[1:] for service in _ringflow_services().values() if _command(service)[0] == "ringflow"
    ]
    assert ["db", "upgrade"] in ringflow_commands and ["temporal", "setup"] in ringflow_commands
    for words in ringflow_commands:
        _click_command(words)


def test_every_python_module_a_service_runs_is_in_the_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = tuple(pattern.rstrip("*") for pattern in packages["include"])
    modules = [_command(s)[2] for s in _ringflow_services().values() if _command(s)[:2] == ["python", "-m"]]
    assert sorted(modules) == ["voice_worker", "worker"]
    for module in modules:
        assert module.startswith(shipped), f"{module} is not in pyproject's packages"
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"`python -m {module}` has no __main__"


def test_the_api_runs_the_uvicorn_factory_on_the_port_it_publishes() -> None:
    api = _services()["api"]
    command = _command(api)
    assert command[0] == "uvicorn" and "--factory" in command
    module_name, _, attribute = command[command.index("--factory") + 1].partition(":")
    assert callable(getattr(importlib.import_module(module_name), attribute))
    port = command[command.index("--port") + 1]
    assert api["ports"] == [f"{port}:{port}"]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_long_running_services_restart_and_have_health_checks_on_their_real_ports() -> None:
    services = _services()
    long_running = {name for name, service in services.items() if not _is_one_shot(service)}
    assert long_running == {"postgres", "temporal", "temporal-ui", "api", "worker", "voice-worker"}
    for name in long_running:
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"], name
    api_port = int(_command(services["api"])[_command(services["api"]).index("--port") + 1])
    assert _healthcheck_port(services["api"]) == api_port
    assert _healthcheck_port(services["worker"]) == Settings.model_fields["worker_http_port"].default
    from voice_worker.entry import worker_options

    voice_port = worker_options().port  # an int, or livekit's ServerEnvOption with the `start` mode's port
    assert _healthcheck_port(services["voice-worker"]) == getattr(voice_port, "prod_default", voice_port)
    assert _healthcheck_port(services["temporal-ui"]) == 8080  # the temporalio/ui image's own port


def test_start_up_order_references_real_services_and_can_be_met() -> None:
    services = _services()
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy"
            elif condition == "service_completed_successfully":
                assert _is_one_shot(services[dependency]), f"{name} waits for long-running {dependency} to exit"
            else:
                pytest.fail(f"{name}: unexpected condition {condition}")
    one_shots = {name for name, service in services.items() if _is_one_shot(service)}
    awaited = {
        dependency
        for service in services.values()
        for dependency, spec in service.get("depends_on", {}).items()
        if spec["condition"] == "service_completed_successfully"
    }
    assert one_shots == awaited == {"temporal-schema", "temporal-setup", "migrate"}
    for name in ("api", "worker"):
        assert {"migrate", "temporal-setup"} <= set(services[name]["depends_on"]), name


def test_there_is_no_dependency_cycle() -> None:
    services = _services()

    def reaches(start: str, seen: tuple[str, ...]) -> Iterator[str]:
        for dependency in services[start].get("depends_on", {}):
            assert dependency not in seen, f"cycle: {' -> '.join((*seen, dependency))}"
            yield dependency
            yield from reaches(dependency, (*seen, dependency))

    for name in services:
        list(reaches(name, (name,)))


def test_every_variable_the_compose_files_use_is_documented_in_env_example() -> None:
    documented = _env_example_names()
    for name in COMPOSE_FILES:
        used = set(_VARIABLE.findall((ROOT / name).read_text()))
        assert used <= documented, f"{name} uses variables .env.example does not document: {used - documented}"


def test_every_ringflow_variable_in_env_example_and_compose_is_a_real_setting() -> None:
    settings = _settings_env_names()
    documented = _env_example_names()
    assert {n for n in documented if n.startswith("RINGFLOW_")} <= settings
    compose_text = (ROOT / "docker-compose.yml").read_text()
    used = set(_VARIABLE.findall(compose_text))
    for service in _ringflow_services().values():
        environment = service["environment"]
        assert {n for n in environment if n.startswith(("RINGFLOW_", "DATABASE_"))} <= settings
    unexplained = {n for n in documented if not n.startswith("RINGFLOW_")} - settings - used - set(NOT_FROM_SETTINGS)
    assert not unexplained, f".env.example documents variables nothing reads: {unexplained}"


def test_required_values_are_empty_in_env_example_so_compose_names_them() -> None:
    """Compose refuses to start until they are filled in, and says which (``${NAME:?message}``)."""
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required == {"POSTGRES_PASSWORD", "RINGFLOW_CODEC_KEYS", "RINGFLOW_OPERATOR_TOKEN"}
    text = (ROOT / ".env.example").read_text()
    for name in required:
        assert re.search(rf"^{name}=$", text, re.MULTILINE), name


def test_the_voice_worker_gets_livekit_credentials_under_the_names_livekit_agents_reads() -> None:
    environment = _services()["voice-worker"]["environment"]
    for name in ("URL", "API_KEY", "API_SECRET"):
        assert environment[f"LIVEKIT_{name}"] == f"${{RINGFLOW_LIVEKIT_{name}:-}}"


def test_the_web_ui_decodes_through_the_api_codec_server() -> None:
    services = _services()
    endpoint = re.fullmatch(
        r"\$\{TEMPORAL_UI_CODEC_ENDPOINT:-(.+)\}", services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]
    )
    assert endpoint is not None
    url = urlsplit(endpoint.group(1))
    assert url.path == CODEC_SERVER_PATH
    assert f"{url.port}:{url.port}" in services["api"]["ports"]
    bind, ui_port, _ = services["temporal-ui"]["ports"][0].rsplit(":", 2)
    assert bind == "${TEMPORAL_UI_BIND:-127.0.0.1}", "the Web UI can terminate workflows: loopback unless told"
    assert f"http://localhost:{ui_port}" in Settings.model_fields["codec_cors_origins"].default.split(",")
    assert "RINGFLOW_OPERATOR_TOKEN" in services["api"]["environment"], "the codec server needs the operators' token"


def test_the_cloud_override_only_drops_the_local_temporal_services() -> None:
    override = _compose("docker-compose.cloud.yml")["services"]
    base = _services()
    assert set(override) <= set(base)
    assert {name for name, service in override.items() if "profiles" in service} == {
        "temporal",
        "temporal-schema",
        "temporal-ui",
    }
    assert override["temporal-setup"]["depends_on"] == {}


# ---- Dockerfile and .dockerignore ------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_installs_the_package_without_dev_dependencies_and_runs_unprivileged() -> None:
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(argument for keyword, argument in instructions if keyword == "RUN")
    assert "pip install '.[voices]'" in runs and "dev]" not in runs, "the package with every model vendor's plugin"
    users = [argument for keyword, argument in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_the_dockerfile_copies_every_shipped_package_and_only_files_that_exist() -> None:
    sources = [
        source.rstrip("/")
        for keyword, argument in _dockerfile_instructions()
        if keyword == "COPY"
        for source in argument.split()[:-1]
    ]
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {pattern.rstrip("*") for pattern in packages["include"]} <= set(sources)
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not ignored & set(sources), "the Dockerfile copies something .dockerignore leaves out"
    assert {".env", ".venv", ".git", ".ringflow"} <= ignored


# ---- docs/deploy.md ----------------------------------------------------------------------------------------------


def test_every_ringflow_command_in_the_deploy_guide_exists() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    lines = re.findall(r"(?:^|\s|`)ringflow ((?:[a-z][a-z-]* ?)+)", guide, re.MULTILINE)
    assert lines, "the guide shows no ringflow command"
    for words in lines:
        path = _ringflow_words(words.split())
        _click_command(path)


def test_every_setting_the_deploy_guide_names_is_real() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"\bRINGFLOW_[A-Z0-9_]*[A-Z0-9]", guide))
    assert named, "the guide names no setting"
    assert named <= _settings_env_names(), named - _settings_env_names()
