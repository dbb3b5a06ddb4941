"""``[cluster] nats_user`` / ``nats_password_env``: validation, the credentialed URL
(``ClusterConfig.connect_url``) and its redaction for logs. Pure: no server."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from vms.config import ClusterConfig, parse_config, redacted
from vms.errors import ErrorKind, VmsError

ENV = "VMS_NATS_PASSWORD"


def _cluster(**fields: Any) -> ClusterConfig:
    return ClusterConfig(**fields)


def _auth(url: str | None = "nats://10.0.0.5:4222", user: str = "vms") -> ClusterConfig:
    return _cluster(nats_url=url, nats_user=user, nats_password_env=ENV)


def test_credentials_go_into_every_server_url() -> None:
    cluster = _auth("tls://nats-1:4222,tls://nats-2:4222, nats://10.0.0.7:4223")
    url = cluster.connect_url({ENV: "s3cret-Pass_1.~"})
    assert url == (
        "tls://vms:s3cret-Pass_1.~@nats-1:4222,tls://vms:s3cret-Pass_1.~@nats-2:4222,"
        "nats://vms:s3cret-Pass_1.~@10.0.0.7:4223"
    )


def test_a_server_without_scheme_gets_nats_and_old_credentials_are_replaced() -> None:
    url = _auth("nats://a:4222,b:4222,nats://old:pw@c:4222").connect_url({ENV: "pw2"})
    assert url == "nats://vms:pw2@a:4222,nats://vms:pw2@b:4222,nats://vms:pw2@c:4222"


def test_user_and_password_are_percent_quoted() -> None:
    # every character the fields accept is unreserved: quoting leaves them as they are
    url = _auth(user="svc.vms-01_a").connect_url({ENV: "a-b.c_d~e"})
    assert url == "nats://svc.vms-01_a:a-b.c_d~e@10.0.0.5:4222"


@pytest.mark.parametrize("password", ["p@ss", "a:b", "a/b", "100%", "p@s:s/%w", "pâté", "a b"])
def test_passwords_that_quoting_would_change_are_refused(password: str) -> None:
    """nats-py sends the URL's password without decoding it: ``%40`` would reach the
    server as is. Such a password is refused with a clear message instead."""
    with pytest.raises(VmsError) as err:
        _auth().connect_url({ENV: password})
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert ENV in err.value.message and "Mot de passe NATS refusé" in err.value.message
    assert password not in err.value.message


def test_invalid_user_names_are_refused() -> None:
    for user in ("a@b", "a:b", "a/b", "a%b", "", " vms", "-vms"):
        with pytest.raises(ValidationError):
            _auth(user=user)
    with pytest.raises(ValidationError):
        _auth(user="u" * 256)
    assert _auth(user="u" * 255).nats_user == "u" * 255


@pytest.mark.parametrize("environ", [{}, {ENV: ""}, {"OTHER": "x"}])
def test_missing_password_variable_is_a_configuration_error(environ: dict[str, str]) -> None:
    with pytest.raises(VmsError) as err:
        _auth().connect_url(environ)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert err.value.message == (
        "Secret manquant pour NATS (cluster.nats_user) : définissez la variable "
        f"d'environnement {ENV}."
    )


def test_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "from-env")
    assert _auth().connect_url() == "nats://vms:from-env@10.0.0.5:4222"
    monkeypatch.delenv(ENV)
    with pytest.raises(VmsError):
        _auth().connect_url()


@pytest.mark.parametrize(
    "fields", [{"nats_user": "vms"}, {"nats_password_env": ENV}], ids=["user", "env"]
)
def test_user_and_password_env_go_together(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="vont ensemble"):
        _cluster(nats_url="nats://n:4222", **fields)


def test_validator_message_reaches_the_user_in_french() -> None:
    text = '[cluster]\nnats_url = "nats://n:4222"\nnats_user = "vms"\n'
    with pytest.raises(VmsError) as err:
        parse_config(tomllib.loads(text))
    assert "nats_password_env vont ensemble" in err.value.message


def test_password_env_must_be_a_variable_name() -> None:
    for name in ("lower-case", "1ABC", "A B", "A=B"):
        with pytest.raises(ValidationError):
            _cluster(nats_url="nats://n:4222", nats_user="vms", nats_password_env=name)


def test_without_credentials_the_url_is_unchanged() -> None:
    plain = _cluster(nats_url="tls://a:4222,tls://b:4222")
    assert plain.connect_url({ENV: "ignored"}) == "tls://a:4222,tls://b:4222"
    assert plain.nats_user is None and plain.nats_password_env is None


def test_without_nats_url_there_is_nothing_to_connect_to() -> None:
    assert _cluster().connect_url({}) is None
    # credentials without a server: valid (a shared file), still nothing to connect to
    assert _auth(url=None).connect_url({}) is None


def test_redacted_hides_passwords_and_tokens() -> None:
    url = _auth("tls://a:4222,b:4222").connect_url({ENV: "topsecret"})
    assert url is not None
    assert redacted(url) == "tls://vms:***@a:4222,nats://vms:***@b:4222"
    assert "topsecret" not in redacted(url)
    assert redacted("nats://a-token@h:4222") == "nats://***@h:4222"
    assert redacted("nats://h:4222,tls://h2:4222") == "nats://h:4222,tls://h2:4222"
    assert redacted("vms:pw@h:4222") == "vms:***@h:4222"
