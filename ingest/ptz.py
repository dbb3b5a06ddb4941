"""PTZ commands carried out by the ingest worker, which holds the cameras' ONVIF
credentials (operator services never see them): one ONVIF session per camera, kept
open between commands, and one command at a time per camera.

Who may steer, and the lock that keeps two operators from fighting over one camera,
are the operator service's business (vms/web/api/ptz.py); this module only executes.
A continuous move always carries an ONVIF timeout, so a camera stops by itself when
the console that moves it goes away without sending "stop".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

from ingest.onvif import OnvifError, PtzClient, discover, probe
from vms.errors import ErrorKind, VmsError

logger = logging.getLogger(__name__)

# a move lasts this long unless renewed: the console repeats it while the key is held
MOVE_TIMEOUT_S = 2.0
ACTIONS = frozenset(
    {"move", "stop", "status", "presets", "goto_preset", "set_preset", "remove_preset", "home",
     "set_home"}
)  # fmt: skip


@dataclass(frozen=True)
class OnvifTarget:
    address: str
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"OnvifTarget({self.address!r}, {self.username!r})"


def _invalid(message: str) -> VmsError:
    return VmsError(ErrorKind.INVALID_ARGUMENT, message)


def _number(command: dict[str, Any], key: str) -> float:
    value = command.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"Vitesse « {key} » invalide : un nombre entre -1 et 1 est attendu.")
    return float(value)


def _text(command: dict[str, Any], key: str) -> str:
    value = command.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"Paramètre « {key} » manquant.")
    return value


class PtzGateway:
    """Executes PTZ commands on the cameras it was given, through ONVIF."""

    def __init__(
        self,
        targets: dict[str, OnvifTarget],
        timeout_s: float = 5.0,
        discovery_interface: str = "",
    ) -> None:
        self.targets = targets
        self.timeout_s = timeout_s
        self.discovery_interface = discovery_interface
        self._clients: dict[str, PtzClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def cameras(self) -> list[str]:
        return sorted(self.targets)

    async def _client(self, camera: str) -> PtzClient:
        client = self._clients.get(camera)
        if client is None:
            target = self.targets[camera]
            client = PtzClient(
                target.address, target.username, target.password, timeout_s=self.timeout_s
            )
            await client.__aenter__()
            self._clients[camera] = client
        return client

    async def _drop(self, camera: str) -> None:
        client = self._clients.pop(camera, None)
        if client is not None:
            await client.__aexit__(None, None, None)

    async def execute(self, camera: str, command: dict[str, Any]) -> dict[str, Any]:
        """Run one command ``{"action": ..., ...}``; returns its JSON result."""
        if camera not in self.targets:
            raise VmsError(ErrorKind.NOT_FOUND, "Cette caméra n'est pas orientable (PTZ).")
        action = command.get("action")
        if action not in ACTIONS:
            raise _invalid("Commande PTZ inconnue.")
        lock = self._locks.setdefault(camera, asyncio.Lock())
        async with lock:
            try:
                client = await self._client(camera)
                return await self._run(client, str(action), command)
            except OnvifError as err:
                if err.kind == ErrorKind.UNAVAILABLE:
                    # the session may be broken: open a new one next time
                    await self._drop(camera)
                logger.warning("ptz %s on %s failed: %s", action, camera, err.detail or err)
                raise

    async def _run(self, client: PtzClient, action: str, command: dict[str, Any]) -> dict[str, Any]:
        if action == "move":
            pan, tilt, zoom = (_number(command, k) for k in ("pan", "tilt", "zoom"))
            if (pan, tilt, zoom) == (0.0, 0.0, 0.0):
                await client.stop()
            else:
                await client.move(pan, tilt, zoom, timeout_s=MOVE_TIMEOUT_S)
            return {"ok": True}
        if action == "stop":
            await client.stop()
            return {"ok": True}
        if action == "status":
            return {"status": asdict(await client.status())}
        if action == "presets":
            return {"presets": [asdict(p) for p in await client.presets()]}
        if action == "goto_preset":
            await client.goto_preset(_text(command, "token"))
            return {"ok": True}
        if action == "set_preset":
            return {"token": await client.set_preset(_text(command, "name"))}
        if action == "remove_preset":
            await client.remove_preset(_text(command, "token"))
            return {"ok": True}
        if action == "home":
            await client.home()
            return {"ok": True}
        await client.set_home()
        return {"ok": True}

    async def probe(self, address: str, username: str, password: str) -> dict[str, Any]:
        """Read a camera's ONVIF facts (adding a camera by its address)."""
        result = await probe(address, username, password, timeout_s=self.timeout_s)
        return result.to_json()

    async def discover(self) -> list[str]:
        """ONVIF devices answering WS-Discovery on the configured interface."""
        if not self.discovery_interface:
            raise VmsError(
                ErrorKind.FAILED_PRECONDITION,
                "La découverte WS-Discovery est désactivée (onvif.discovery_interface).",
            )
        return await discover(self.discovery_interface, min(self.timeout_s, 5.0))

    async def close(self) -> None:
        for camera in list(self._clients):
            await self._drop(camera)
