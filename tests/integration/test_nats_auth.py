"""NATS with a user and password (``[cluster] nats_user`` / ``nats_password_env``):
real nats-server, real nats-py, the URL from ``ClusterConfig.connect_url``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import KeyValueConfig

from tests.fixtures.nats import NATS_TEST_PASSWORD, NATS_TEST_USER, NatsAuthServer, running_nats
from vms.cluster.coordinator import Coordinator, LeaseSettings
from vms.cluster.leases import NatsLeases
from vms.cluster.placement import CameraSlot, Worker
from vms.config import ClusterConfig
from vms.errors import ErrorKind, VmsError

pytestmark = pytest.mark.integration

PASSWORD_ENV = "VMS_TEST_NATS_PASSWORD"


def _cluster(url: str, user: str) -> ClusterConfig:
    return ClusterConfig(nats_url=url, nats_user=user, nats_password_env=PASSWORD_ENV)  # type: ignore[call-arg]


async def _connect_fast(url: str) -> Any:
    """One attempt, no reconnection: a refused client fails at once (and its socket
    is closed: nats-py leaves it open when the server refuses the credentials)."""
    nc = NatsClient()
    try:
        await nc.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    except BaseException:
        await nc.close()
        raise
    return nc


async def _kv_roundtrip(url: str) -> bytes:
    nc = await _connect_fast(url)
    try:
        js = nc.jetstream(timeout=5)
        kv = await js.create_key_value(KeyValueConfig(bucket="auth-test", history=1))
        await kv.put("camera-1", b"worker-a")
        entry = await kv.get("camera-1")
        assert entry.value is not None
        return bytes(entry.value)
    finally:
        await nc.close()


def test_credentialed_url_reaches_jetstream(nats_server_auth: NatsAuthServer) -> None:
    cluster = _cluster(nats_server_auth.url, nats_server_auth.user)
    url = cluster.connect_url({PASSWORD_ENV: nats_server_auth.password})
    assert url is not None and nats_server_auth.password in url
    assert asyncio.run(_kv_roundtrip(url)) == b"worker-a"


def test_client_without_credentials_is_refused(nats_server_auth: NatsAuthServer) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_kv_roundtrip(nats_server_auth.url))


def test_wrong_password_is_refused(nats_server_auth: NatsAuthServer) -> None:
    url = _cluster(nats_server_auth.url, nats_server_auth.user).connect_url(
        {PASSWORD_ENV: "not-the-password"}
    )
    assert url is not None
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_kv_roundtrip(url))


def test_leases_open_with_the_credentialed_url(nats_server_auth: NatsAuthServer) -> None:
    """The existing code paths take the credentialed URL as they took the bare one."""
    cluster = _cluster(nats_server_auth.url, nats_server_auth.user)
    url = cluster.connect_url({PASSWORD_ENV: nats_server_auth.password})
    assert url is not None

    async def scenario() -> None:
        leases = NatsLeases(url, "auth", ttl_s=5.0, name="auth-test")
        await leases.open()
        try:
            await asyncio.wait_for(leases.synced.wait(), 5)
        finally:
            await leases.close()

    asyncio.run(scenario())


def test_nats_py_sends_percent_escapes_as_written(tmp_path: Path) -> None:
    """Why ``connect_url`` refuses passwords that quoting would change: nats-py does not
    decode the URL's user information (if this starts to fail, the restriction can go)."""
    special = "p@ss:/%w"
    with running_nats(tmp_path, "--user", "u", "--pass", special) as (port, _):
        url = f"nats://u:{quote(special, safe='')}@127.0.0.1:{port}"
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(_kv_roundtrip(url))


def test_authorization_from_an_included_file(tmp_path: Path) -> None:
    """The deployment's layout: nats.conf includes the secret file that holds the
    authorization block (an include path is relative to the including file)."""
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    (conf_dir / "auth.conf").write_text(
        f'authorization {{\n  user: {NATS_TEST_USER}\n  password: "{NATS_TEST_PASSWORD}"\n}}\n'
    )
    (conf_dir / "nats.conf").write_text('include "auth.conf"\n')
    with running_nats(tmp_path, "-c", str(conf_dir / "nats.conf")) as (port, _):
        base = f"nats://127.0.0.1:{port}"
        url = _cluster(base, NATS_TEST_USER).connect_url({PASSWORD_ENV: NATS_TEST_PASSWORD})
        assert url is not None
        assert asyncio.run(_kv_roundtrip(url)) == b"worker-a"
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(_kv_roundtrip(base))


def test_a_worker_with_a_wrong_password_says_so(nats_server_auth: NatsAuthServer) -> None:
    """`vms ingest` with credentials NATS refuses stops with a French message naming the
    settings to check, not a silent wait."""
    url = _cluster(nats_server_auth.url, nats_server_auth.user).connect_url(
        {PASSWORD_ENV: "not-the-password"}
    )
    assert url is not None
    store = NatsLeases(url, "auth", ttl_s=5.0, name="auth-test")
    coordinator = Coordinator(
        store, Worker("w1", None), [CameraSlot("cam1", None)], lambda c: None,
        lambda c, cause: None, LeaseSettings(ttl_s=5.0, margin_s=1.5),
    )  # fmt: skip
    with pytest.raises(VmsError, match="refuse les identifiants") as err:
        coordinator.start(timeout_s=4)
    assert err.value.kind is ErrorKind.UNAVAILABLE
    assert "not-the-password" not in err.value.message
