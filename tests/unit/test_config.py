"""Settings: embedded defaults, CERTPREP_* variables, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, env_var_for, load_settings


def test_embedded_defaults_live_in_the_instance_folder(tmp_path):
    settings = load_settings({"CERTPREP_INSTANCE_DIR": str(tmp_path)})
    assert settings.instance_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'certprep.sqlite3'}"
    assert settings.broker_url == "filesystem://"
    assert settings.env == "development"
    assert settings.testing is False
    assert settings.token_ttl_seconds == 12 * 3600
    assert settings.login_max_failures == 5
    assert settings.sim_urls == ()


def test_default_instance_folder_is_relative_to_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).instance_dir == Path(tmp_path / "instance").resolve()


def test_environment_variables_are_read():
    settings = load_settings(
        {
            "CERTPREP_DATABASE_URL": "postgresql+psycopg://u@db:5432/certprep",
            "CERTPREP_BROKER_URL": "redis://127.0.0.1:6379/0",
            "CERTPREP_SECRET_KEY": "s3cret",
            "CERTPREP_ENV": "production",
            "CERTPREP_TOKEN_TTL_SECONDS": "60",
            "CERTPREP_LOGIN_MAX_FAILURES": "3",
            "CERTPREP_LOGIN_MAX_FAILURES_PER_ADDRESS": "9",
            "CERTPREP_LOGIN_WINDOW_SECONDS": "30",
            "CERTPREP_PROXY_HOPS": "1",
            "CERTPREP_DB_POOL_SIZE": "8",
            "CERTPREP_SIM_URLS": "https://a:8443, https://b:8443,",
        }
    )
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.env == "production"
    assert settings.token_ttl_seconds == 60
    assert settings.login_max_failures == 3
    assert settings.login_max_failures_per_address == 9
    assert settings.login_window_seconds == 30
    assert settings.proxy_hops == 1
    assert settings.db_pool_size == 8
    assert settings.flask_config()["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 8
    assert settings.sim_urls == ("https://a:8443", "https://b:8443")


def test_testing_flag_follows_env_unless_set():
    assert load_settings({"CERTPREP_ENV": "testing"}).testing is True
    assert load_settings({"CERTPREP_ENV": "testing", "CERTPREP_TESTING": "no"}).testing is False
    assert load_settings({"CERTPREP_TESTING": "1"}).testing is True
    assert load_settings({}, overrides={"testing": True}).testing is True


@pytest.mark.parametrize(
    "environ, variable",
    [
        ({"CERTPREP_TOKEN_TTL_SECONDS": "soon"}, "CERTPREP_TOKEN_TTL_SECONDS"),
        ({"CERTPREP_TOKEN_TTL_SECONDS": "0"}, "CERTPREP_TOKEN_TTL_SECONDS"),
        ({"CERTPREP_LOGIN_MAX_FAILURES": "-1"}, "CERTPREP_LOGIN_MAX_FAILURES"),
        ({"CERTPREP_PROXY_HOPS": "many"}, "CERTPREP_PROXY_HOPS"),
        ({"CERTPREP_DB_POOL_SIZE": "0"}, "CERTPREP_DB_POOL_SIZE"),
        ({"CERTPREP_TESTING": "maybe"}, "CERTPREP_TESTING"),
        ({"CERTPREP_ENV": "staging"}, "CERTPREP_ENV"),
        ({"CERTPREP_DATABASE_URL": "mysql://x/y"}, "CERTPREP_DATABASE_URL"),
        ({"CERTPREP_DATABASE_URL": "certprep.db"}, "CERTPREP_DATABASE_URL"),
        ({"CERTPREP_SIM_URLS": "ftp://sim"}, "CERTPREP_SIM_URLS"),
        ({"CERTPREP_ENV": "production"}, "CERTPREP_SECRET_KEY"),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(environ, variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ)


def test_production_accepts_a_real_secret():
    settings = load_settings({"CERTPREP_ENV": "production", "CERTPREP_SECRET_KEY": "x" * 32})
    assert settings.secret_key != DEV_SECRET_KEY


def test_overrides_win_over_the_environment(tmp_path):
    settings = load_settings(
        {"CERTPREP_DATABASE_URL": "sqlite:///a.db", "CERTPREP_TOKEN_TTL_SECONDS": "60"},
        overrides={
            "database_url": "sqlite:///b.db",
            "token_ttl_seconds": "120",
            "instance_dir": str(tmp_path),
            "SQLALCHEMY_ECHO": True,
        },
    )
    assert settings.database_url == "sqlite:///b.db"
    assert settings.token_ttl_seconds == 120
    assert settings.instance_dir == tmp_path.resolve()
    assert settings.flask_config()["SQLALCHEMY_ECHO"] is True


def test_unknown_override_is_an_error():
    with pytest.raises(ConfigError, match="tokn_ttl"):
        load_settings({}, overrides={"tokn_ttl": 5})


def test_bad_override_value_is_an_error():
    with pytest.raises(ConfigError, match="login_window_seconds"):
        load_settings({}, overrides={"login_window_seconds": 0})


def test_flask_config_carries_the_settings():
    settings = load_settings({"CERTPREP_ENV": "testing", "CERTPREP_SECRET_KEY": "k"})
    config = settings.flask_config()
    assert config["TESTING"] is True
    assert config["SECRET_KEY"] == "k"
    assert config["SQLALCHEMY_DATABASE_URI"] == settings.database_url
    assert config["PROPAGATE_EXCEPTIONS"] is False
    assert config["OPENAPI_URL_PREFIX"] == "/api"
    assert Path(config["MIGRATIONS_DIR"]).name == "migrations"


def test_env_var_for_names_the_variable():
    assert env_var_for("token_ttl_seconds") == "CERTPREP_TOKEN_TTL_SECONDS"
    assert env_var_for("extra") is None


def test_create_app_reports_bad_settings(monkeypatch):
    from app import create_app

    monkeypatch.setenv("CERTPREP_LOGIN_WINDOW_SECONDS", "forever")
    with pytest.raises(ConfigError, match="CERTPREP_LOGIN_WINDOW_SECONDS"):
        create_app()


@pytest.mark.reliability
def test_instance_secret_key_is_generated_once_and_owner_only(tmp_path):
    import stat

    from app.config import SECRET_KEY_FILE, instance_secret_key

    instance = tmp_path / "instance"
    key = instance_secret_key(instance)
    assert len(key) >= 48 and key != DEV_SECRET_KEY
    assert instance_secret_key(instance) == key
    assert stat.S_IMODE((instance / SECRET_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert instance_secret_key(tmp_path / "other") != key
