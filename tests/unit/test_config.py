"""Configuration: precedence, conversions, errors, and the sample file stays true to the code."""
from __future__ import annotations

from pathlib import Path

import pytest

from sharebackup.config import ConfigError, load_config
from sharebackup.config_sample import sample_config

REPO = Path(__file__).resolve().parents[2]


def test_sample_config_matches_code():
    sample = (REPO / "etc" / "sharebackup.conf.sample").read_text()
    assert sample == sample_config(), "regenerate with `make sample-config`"


def test_precedence_file_env_override(tmp_path):
    ini = tmp_path / "sb.conf"
    ini.write_text("[DEFAULT]\nport = 9000\nworkers = 3\n[quota]\nbackups = 4\n[database]\nconnection = sqlite:///x\n"
                   "[keystone_authtoken]\nauth_url = http://k/v3\n")
    conf = load_config(ini, environ={"SHAREBACKUP_WORKERS": "5", "SHAREBACKUP_QUOTA__BACKUPS": "6"}, port=9100)
    assert conf.port == 9100          # flag beats file
    assert conf.workers == 5          # environment beats file
    assert conf.quota.backups == 6
    assert conf.database.connection == "sqlite:///x"
    assert conf.keystone_authtoken == {"auth_url": "http://k/v3"}


def test_defaults_and_derived_paths(tmp_path):
    conf = load_config(None, environ={}, state_dir=str(tmp_path))
    assert conf.database_url == f"sqlite:///{tmp_path}/sharebackup.sqlite"
    assert conf.token_path == tmp_path / "tokens.json"
    assert conf.auth_strategy == "tokens" and conf.port == 8786 and conf.host == "127.0.0.1"


@pytest.mark.parametrize("environ,message", [
    ({"SHAREBACKUP_PORT": "eighty"}, "DEFAULT.port"),
    ({"SHAREBACKUP_AUTH_STRATEGY": "magic"}, "auth_strategy"),
    ({"SHAREBACKUP_NOAUTH_ALL_ADMIN": "perhaps"}, "noauth_all_admin"),
])
def test_bad_values_name_the_option(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, environ=environ)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.conf", environ={})


@pytest.mark.parametrize("items,message", [
    ("offsite", "is not name=location"),
    ("offsite=", "is not name=location"),
    ("off site=/tmp/r", "must be 1-32 letters"),
    ("x" * 33 + "=/tmp/r", "must be 1-32 letters"),
    ("default=/tmp/r", "used twice"),
    ("a=/tmp/r1,a=/tmp/r2", "used twice"),
])
def test_bad_repository_lists_stop_the_start(items, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, environ={"SHAREBACKUP_BACKUP__REPOSITORIES": items})


def test_repository_names_may_use_dots_dashes_and_underscores():
    conf = load_config(None, environ={"SHAREBACKUP_BACKUP__REPOSITORIES": "off-site.eu_1=s3://bucket/p, b=/tmp/r"})
    assert [item.split("=")[0].strip() for item in conf.backup.repositories] == ["off-site.eu_1", "b"]


@pytest.mark.parametrize("option", ["share_create_delay", "backup_create_delay"])
def test_a_production_configuration_refuses_test_hooks(tmp_path, option):
    """Issue 9: the test-only start delays shipped in the configuration like any option;
    one left in a production file would slow every share or backup without a word."""
    ini = tmp_path / "sb.conf"
    ini.write_text(f"[DEFAULT]\n{option} = 1.0\n")
    with pytest.raises(ConfigError, match=f"{option} is a test hook"):
        load_config(ini, environ={})
    assert getattr(load_config(ini, environ={"SHAREBACKUP_ENABLE_TEST_HOOKS": "true"}), option) == 1.0
    assert f"{option} =" not in sample_config()


@pytest.mark.parametrize("text, named", [
    ("[DEFAULT]\nworkrs = 4\n", "unknown option workrs in [DEFAULT]"),
    ("[bakup]\nkey_file = /k\n", "unknown section [bakup]"),
    ("[backup]\nkeyfile = /k\n", "unknown option keyfile in [backup]"),
    ("[quota]\nshares = 5\nsnapshot = 3\n", "unknown option snapshot in [quota]"),
])
def test_a_misspelled_section_or_option_stops_the_start(tmp_path, text, named):
    """A typo used to be ignored: `[bakup] key_file` then created unencrypted repositories."""
    ini = tmp_path / "sb.conf"
    ini.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(ini, environ={})
    assert named in str(raised.value)
    assert str(ini) in str(raised.value)  # says where the typo is
    assert "\n" not in str(raised.value)  # one line


def test_every_typo_is_named_at_once(tmp_path):
    ini = tmp_path / "sb.conf"
    ini.write_text("[DEFAULT]\nworkrs = 4\nprot = 1\n[bakup]\nx = 1\n")
    message = str(pytest.raises(ConfigError, load_config, ini, environ={}).value)
    assert all(name in message for name in ("workrs", "prot", "[bakup]"))


def test_a_misspelled_section_variable_stops_the_start():
    with pytest.raises(ConfigError, match=r"unknown option key_fle in \[backup\] \(environment SHAREBACKUP_BACKUP__KEY_FLE\)"):
        load_config(None, environ={"SHAREBACKUP_BACKUP__KEY_FLE": "/k"})
    with pytest.raises(ConfigError, match=r"unknown section \[bakup\]"):
        load_config(None, environ={"SHAREBACKUP_BAKUP__KEY_FILE": "/k"})


def test_tool_variables_sharing_the_prefix_are_left_alone():
    """SHAREBACKUP_KEY_FILE belongs to `sharebackup repo`, SHAREBACKUP_CONFIG names the file:
    neither is a [DEFAULT] option, and neither stops the service."""
    conf = load_config(None, environ={"SHAREBACKUP_KEY_FILE": "/k", "SHAREBACKUP_CONFIG": "/c",
                                      "SHAREBACKUP_WORKERS": "3"})
    assert conf.workers == 3


def test_keystone_authtoken_options_pass_through_unchecked(tmp_path):
    ini = tmp_path / "sb.conf"
    ini.write_text("[keystone_authtoken]\nwww_authenticate_uri = http://k\nmemcached_servers = m:11211\n")
    assert load_config(ini, environ={}).keystone_authtoken["memcached_servers"] == "m:11211"


def test_request_body_cap_lives_in_the_api_section(tmp_path):
    ini = tmp_path / "sb.conf"
    ini.write_text("[api]\nmax_request_body_bytes = 2048\n")
    assert load_config(ini, environ={}).api.max_request_body_bytes == 2048


def test_the_old_name_of_the_body_cap_still_works_with_a_warning(tmp_path, caplog):
    ini = tmp_path / "sb.conf"
    ini.write_text("[DEFAULT]\nmax_request_body_size = 4096\n")
    with caplog.at_level("WARNING", logger="sharebackup.config"):
        conf = load_config(ini, environ={})
    assert conf.api.max_request_body_bytes == 4096
    assert "max_request_body_size" in caplog.text and "deprecated" in caplog.text
    assert load_config(None, environ={"SHAREBACKUP_MAX_REQUEST_BODY_SIZE": "512"}).api.max_request_body_bytes == 512
    both = tmp_path / "both.conf"
    both.write_text("[DEFAULT]\nmax_request_body_size = 4096\n[api]\nmax_request_body_bytes = 1024\n")
    assert load_config(both, environ={}).api.max_request_body_bytes == 1024  # the new name wins
