"""The service's settings: environment, optional KEY=VALUE file, validation naming the variable."""

import pytest
from pdfcompare.settings import Settings, SettingsError, load_settings, read_env_file


def test_defaults_need_nothing():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.read_urls == ()
    assert settings.metrics_port == 9501


def test_environment_values_are_typed():
    settings = load_settings({
        "PDFCOMPARE_DATABASE_URL": "postgresql://pdfcompare@127.0.0.1:6432/pdfcompare",
        "PDFCOMPARE_DATABASE_READ_URLS": "postgresql://a/ro1, postgresql://b/ro2",
        "PDFCOMPARE_WORKERS": "3",
        "PDFCOMPARE_DATABASE_PREPARED_STATEMENTS": "yes",
        "PDFCOMPARE_COMPARE_TIMEOUT_S": "12.5",
        "PDFCOMPARE_PORT": "8502",
        "PDFCOMPARE_METRICS_PORT_OFFSET": "0",
        "UNRELATED": "ignored",
    })
    assert settings.database_read_urls == ("postgresql://a/ro1", "postgresql://b/ro2")
    assert settings.read_urls == settings.database_read_urls
    assert settings.workers == 3
    assert settings.database_prepared_statements is True
    assert settings.compare_timeout_s == 12.5
    assert settings.metrics_port is None


def test_file_values_lose_to_the_environment(tmp_path):
    path = tmp_path / "pdfcompare.env"
    path.write_text("# comment\n\nPDFCOMPARE_PORT=8600\nPDFCOMPARE_LOG_LEVEL='DEBUG'\n"
                    'PDFCOMPARE_REDIS_PASSWORD="s3cret"\nFORWARDED_ALLOW_IPS=\n')
    assert read_env_file(path)["FORWARDED_ALLOW_IPS"] == ""
    settings = load_settings({"PDFCOMPARE_CONFIG_FILE": str(path), "PDFCOMPARE_PORT": "8700"})
    assert (settings.port, settings.log_level, settings.redis_password) == (8700, "DEBUG", "s3cret")


@pytest.mark.parametrize(("env", "named"), [
    ({"PDFCOMPARE_WORKERS": "two"}, "PDFCOMPARE_WORKERS"),
    ({"PDFCOMPARE_WORKERS": "-1"}, "PDFCOMPARE_WORKERS"),
    ({"PDFCOMPARE_PORT": "70000"}, "PDFCOMPARE_PORT"),
    ({"PDFCOMPARE_AUTH_MODE": "ldap"}, "PDFCOMPARE_AUTH_MODE"),
    ({"PDFCOMPARE_AUTH_MODE": "header"}, "PDFCOMPARE_TRUSTED_PROXIES"),
    ({"PDFCOMPARE_AUTH_MODE": "header", "PDFCOMPARE_TRUSTED_PROXIES": "lb1"}, "PDFCOMPARE_TRUSTED_PROXIES"),
    ({"PDFCOMPARE_REDIS_URL": "http://cache1"}, "PDFCOMPARE_REDIS_URL"),
    ({"PDFCOMPARE_PROT": "8501"}, "PDFCOMPARE_PROT"),
    ({"PDFCOMPARE_DATABASE_PREPARED_STATEMENTS": "maybe"}, "PDFCOMPARE_DATABASE_PREPARED_STATEMENTS"),
])
def test_bad_values_name_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_bad_file_line_names_the_line(tmp_path):
    path = tmp_path / "bad.env"
    path.write_text("PDFCOMPARE_PORT=1\nthis is not a setting\n")
    with pytest.raises(SettingsError, match="line 2"):
        load_settings({}, config_file=str(path))


def test_secrets_stay_out_of_the_public_view():
    settings = load_settings({
        "PDFCOMPARE_DATABASE_PASSWORD": "pw", "PDFCOMPARE_COOKIE_SECRET": "cookie",
        "PDFCOMPARE_REDIS_URL": "redis://pdfcompare:inline@cache1:6379/0",
    })
    shown = repr(settings.public_dict()) + repr(settings)
    assert "pw'" not in shown and "cookie'" not in shown and "inline" not in shown
    assert settings.public_dict()["redis_url"] == "redis://pdfcompare:***@cache1:6379/0"
