"""The alert desk API of the operator service (vms/web/api/alerts.py): list, card,
actions through the state machine (history, audit, French 409/400), manual alerts,
tickets, commune isolation and the WebSocket push, against real PostgreSQL. Rows the
desk service would write are inserted directly with the owner connection."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import requests

from tests.fixtures.live import run_client
from tests.fixtures.web import WebEnv
from vms.db.scope import open_async_pool
from vms.domain.access import Action, Grant, Principal, Role
from vms.domain.clock import SystemClock
from vms.web.api.alerts import QUEUE_SIZE, AlertHub, Subscriber

pytestmark = pytest.mark.integration


def user(
    web: WebEnv, login: str, grants: list[tuple[str, ...]], tenant: str = "csd"
) -> requests.Session:
    web.user(login, "operator", tenant, grants)  # type: ignore[arg-type]
    return web.login(login)


def add_alert(
    web: WebEnv,
    camera: str | None,
    *,
    tenant: str = "commune-a",
    source: str = "analytique",
    kind: str = "intrusion",
    title: str = "Présence dans la zone « parvis »",
    raised_at: datetime | None = None,
    notify: bool = False,
) -> int:
    """An alert as the desk service raises it (and announces it if ``notify``)."""
    raised = raised_at or datetime.now(UTC)
    rows = web.sql(
        "INSERT INTO alerts (tenant_id, camera_id, source, kind, priority, title, event_id, "
        "event_at, raised_at, ack_due_at, detail) VALUES (%s, %s, %s, %s, 2, %s, %s, %s, %s, "
        '%s, \'{"label": "Intrusion"}\') RETURNING id',
        (
            tenant,
            camera,
            source,
            kind,
            title,
            41 if source == "analytique" else None,
            raised if source == "analytique" else None,
            raised,
            raised + timedelta(seconds=120),
        ),
    )
    alert_id = int(rows[0][0])  # type: ignore[call-overload]
    if notify:
        payload = json.dumps({"id": alert_id, "tenant_id": tenant})
        web.sql("SELECT pg_notify('vms_alerts', %s)", (payload,))
    return alert_id


def message(r: requests.Response) -> str:
    return str(r.json()["erreur"]["message"])


def act(web: WebEnv, s: requests.Session, alert_id: int, **body: Any) -> requests.Response:
    return s.post(f"{web.url}/api/v1/alerts/{alert_id}/actions", json=body)


def audit(web: WebEnv, action: str) -> list[tuple[Any, ...]]:
    return web.sql(
        "SELECT actor, tenant_id, target, detail FROM audit WHERE action = %s ORDER BY seq",
        (action,),
    )


def test_list_card_and_the_whole_lifecycle(web: WebEnv) -> None:
    web.sql(
        'UPDATE tenants SET referents = \'[{"name": "M. Maire", "role": "Maire", '
        '"phone": "0102030405"}]\' WHERE id = \'commune-a\''
    )
    web.sql("UPDATE cameras SET latitude = 48.85, longitude = 2.35 WHERE id = 'a1'")
    old = add_alert(web, "a1", raised_at=datetime.now(UTC) - timedelta(minutes=10))
    alert_id = add_alert(web, "a1")
    op = user(web, "op", [("handle_alerts", "commune-a")])

    listed = op.get(f"{web.url}/api/v1/alerts").json()["alerts"]
    assert [a["id"] for a in listed] == [alert_id, old]
    first = listed[0]
    assert first["tenant_name"] == "Commune A" and first["camera_name"] == "Mairie"
    assert (first["state"], first["overdue"], first["late_s"]) == ("nouvelle", False, None)
    assert listed[1]["overdue"] is True and listed[1]["late_s"] >= 470

    card = op.get(f"{web.url}/api/v1/alerts/{alert_id}").json()
    assert card["procedure"]["title"] == "Intrusion dans une zone"
    assert card["procedure"]["checklist"][0] == "Ouvrir le direct de la caméra"
    assert card["camera"] == {
        "id": "a1",
        "name": "Mairie",
        "latitude": 48.85,
        "longitude": 2.35,
        "live_enabled": True,
    }
    assert card["referents"][0]["name"] == "M. Maire"
    assert card["snapshot"] == "/api/v1/events/41/snapshot"
    raised = datetime.fromisoformat(card["raised_at"])
    assert datetime.fromisoformat(card["clip"]["from"]) == raised - timedelta(seconds=20)
    assert datetime.fromisoformat(card["clip"]["to"]) == raised + timedelta(seconds=10)
    assert card["history"] == [] and card["detail"] == {"label": "Intrusion"}
    assert audit(web, "alert.view")[0][:3] == ("op", "commune-a", f"alert:{alert_id}")

    r = act(web, op, alert_id, action="acknowledge")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["acknowledged_by"], r.json()["assigned_to"]) == (
        "prise_en_compte",
        "op",
        "op",
    )
    assert (
        act(web, op, alert_id, action="assign", assigned_to="collegue").json()["assigned_to"]
        == "collegue"
    )
    assert act(web, op, alert_id, action="start").json()["state"] == "levee_de_doute"
    r = act(web, op, alert_id, action="escalate", service="police_municipale", reference="PM-12")
    assert r.json()["state"] == "escaladee"
    assert r.json()["forces_calls"][0] | {"called_at": None} == {
        "service": "police_municipale",
        "reference": "PM-12",
        "by": "op",
        "share_link_id": None,
        "called_at": None,
    }

    # closing needs a qualification and a report: a French 400, nothing changes
    r = act(web, op, alert_id, action="close", qualification="fausse_alerte")
    assert r.status_code == 400 and message(r) == "Le compte rendu de clôture est obligatoire."
    r = act(web, op, alert_id, action="close", qualification="fausse_alerte", report="  ")
    assert r.status_code == 400
    assert web.sql("SELECT state FROM alerts WHERE id = %s", (alert_id,)) == [("escaladee",)]
    r = act(
        web,
        op,
        alert_id,
        action="close",
        qualification="fausse_alerte",
        report="Chat sur le parvis.",
    )
    assert r.status_code == 200, r.text
    card = r.json()
    assert (card["state"], card["qualification"], card["report"]) == (
        "cloturee",
        "fausse_alerte",
        "Chat sur le parvis.",
    )
    assert [(h["actor"], h["action"], h["from_state"], h["to_state"]) for h in card["history"]] == [
        ("op", "acknowledge", "nouvelle", "prise_en_compte"),
        ("op", "assign", "prise_en_compte", "prise_en_compte"),
        ("op", "start", "prise_en_compte", "levee_de_doute"),
        ("op", "escalate", "levee_de_doute", "escaladee"),
        ("op", "close", "escaladee", "cloturee"),
    ]
    assert card["history"][1]["detail"] == {"affecte_a": "collegue"}

    # a forbidden transition: French 409, nothing written
    r = act(web, op, alert_id, action="acknowledge")
    assert r.status_code == 409
    assert message(r) == "Impossible de prendre en compte une alerte « Clôturée »."
    r = act(web, op, old, action="start")
    assert r.status_code == 409 and "« Nouvelle »" in message(r)
    assert act(web, op, alert_id, action="fly").status_code == 400
    assert act(web, op, alert_id, action="reopen").status_code == 400
    r = act(web, op, alert_id, action="reopen", reason="Le chat est revenu.")
    assert r.json()["state"] == "nouvelle" and r.json()["report"] is None
    assert len(r.json()["history"]) == 6

    # every transition is in the audit log, in the alert's commune
    trail = web.sql(
        "SELECT action, actor, tenant_id, detail->>'vers' FROM audit "
        "WHERE target = %s AND action <> 'alert.view' ORDER BY seq",
        (f"alert:{alert_id}",),
    )
    assert trail == [
        ("alert.acknowledge", "op", "commune-a", "prise_en_compte"),
        ("alert.assign", "op", "commune-a", "prise_en_compte"),
        ("alert.start", "op", "commune-a", "levee_de_doute"),
        ("alert.escalate", "op", "commune-a", "escaladee"),
        ("alert.close", "op", "commune-a", "cloturee"),
        ("alert.reopen", "op", "commune-a", "nouvelle"),
    ]
    # filters
    assert [
        a["id"]
        for a in op.get(f"{web.url}/api/v1/alerts", params={"state": "closed"}).json()["alerts"]
    ] == []
    assert op.get(f"{web.url}/api/v1/alerts", params={"state": "x"}).status_code == 400
    assert op.get(f"{web.url}/api/v1/alerts", params={"camera": "a2"}).json()["alerts"] == []
    assert op.get(f"{web.url}/api/v1/alerts", params={"kind": "arme"}).json()["alerts"] == []


def test_manual_alert_and_tickets(web: WebEnv) -> None:
    op = user(web, "op", [("handle_alerts", "commune-a")])
    tech = user(web, "tech", [("admin_cameras", "commune-a")])
    r = op.post(
        f"{web.url}/api/v1/alerts",
        json={"camera_id": "a2", "title": "Rixe devant la gare", "detail": "Trois personnes"},
    )
    assert r.status_code == 201, r.text
    card = r.json()
    assert (card["source"], card["kind"], card["priority"], card["state"]) == (
        "manuelle",
        "manuelle",
        3,
        "nouvelle",
    )
    assert card["detail"] == {"description": "Trois personnes"}
    assert [(h["action"], h["to_state"]) for h in card["history"]] == [("create", "nouvelle")]
    due = datetime.fromisoformat(card["ack_due_at"]) - datetime.fromisoformat(card["raised_at"])
    assert due == timedelta(seconds=600)
    assert audit(web, "alert.create")[0][:3] == ("op", "commune-a", f"alert:{card['id']}")
    # an administrator of cameras may not raise one, nor handle a non-technical alert
    r = tech.post(f"{web.url}/api/v1/alerts", json={"camera_id": "a2", "title": "x"})
    assert r.status_code == 403
    assert message(r) == "Accès refusé : aucun droit « handle_alerts » sur commune-a."
    assert act(web, tech, card["id"], action="acknowledge").status_code == 403
    assert tech.get(f"{web.url}/api/v1/alerts").json()["alerts"] == []
    # but sees and handles technical alerts
    technical = add_alert(web, "a1", source="technique", kind="technique", title="Flux interrompu")
    assert [a["id"] for a in tech.get(f"{web.url}/api/v1/alerts").json()["alerts"]] == [technical]
    assert act(web, tech, technical, action="acknowledge").status_code == 200

    r = tech.post(
        f"{web.url}/api/v1/tickets",
        json={
            "camera_id": "a1",
            "element": "Caméra",
            "site": "Mairie",
            "description": "Image noire",
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert (ticket["state"], ticket["declarer"], ticket["camera_name"]) == (
        "ouvert",
        "tech",
        "Mairie",
    )
    tid = ticket["id"]

    def tact(s: requests.Session, **body: Any) -> requests.Response:
        return s.post(f"{web.url}/api/v1/tickets/{tid}/actions", json=body)

    r = tact(tech, action="close")
    assert r.status_code == 409 and message(r) == "Impossible de clore un ticket « Ouvert »."
    assert tact(tech, action="assign").status_code == 400
    assert tact(op, action="assign", assigned_to="tech").json()["state"] == "affecte"
    assert tact(tech, action="on_site").json()["state"] == "sur_site"
    r = tact(tech, action="resolve")
    assert r.status_code == 400 and message(r) == "La résolution est obligatoire."
    r = tact(tech, action="resolve", resolution="Connecteur remplacé")
    assert (r.json()["state"], r.json()["resolution"]) == ("resolu", "Connecteur remplacé")
    assert [t["id"] for t in tech.get(f"{web.url}/api/v1/tickets").json()["tickets"]] == []
    assert tact(tech, action="close").json()["state"] == "clos"
    listed = tech.get(f"{web.url}/api/v1/tickets", params={"state": "all"}).json()["tickets"]
    assert [(t["id"], t["state"]) for t in listed] == [(tid, "clos")]
    assert [
        a[0]
        for a in web.sql(
            "SELECT action FROM audit WHERE target = %s ORDER BY seq", (f"ticket:{tid}",)
        )
    ] == ["ticket.create", "ticket.assign", "ticket.on_site", "ticket.resolve", "ticket.close"]
    viewer = user(web, "viewer", [("view_live", "commune-a")])
    r = viewer.post(
        f"{web.url}/api/v1/tickets",
        json={"camera_id": "a1", "element": "Caméra", "description": "x"},
    )
    assert r.status_code == 403


def test_commune_isolation(web: WebEnv) -> None:
    a_alert = add_alert(web, "a1", title="Secret A")
    a_tenant_wide = add_alert(web, None, source="externe", kind="externe", title="Secret A externe")
    b_alert = add_alert(web, "b1", tenant="commune-b", title="Alerte B")
    agent_b = user(
        web,
        "agent-b",
        [
            ("handle_alerts", "commune-b"),
            ("admin_cameras", "commune-b"),
            ("view_live", "commune-b"),
        ],
        tenant="commune-b",
    )
    csd = user(web, "op-csd", [("handle_alerts", "commune-a")])
    viewer_a = user(web, "viewer-a", [("view_live", "commune-a")], tenant="commune-a")

    r = agent_b.get(f"{web.url}/api/v1/alerts", params={"state": "all", "limit": 500})
    assert [a["id"] for a in r.json()["alerts"]] == [b_alert] and "Secret A" not in r.text
    assert agent_b.get(f"{web.url}/api/v1/alerts", params={"camera": "a1"}).json()["alerts"] == []
    for alert in (a_alert, a_tenant_wide):
        r = agent_b.get(f"{web.url}/api/v1/alerts/{alert}")
        assert r.status_code == 404 and message(r) == "Ressource introuvable."
        assert act(web, agent_b, alert, action="acknowledge").status_code == 404
    assert web.sql("SELECT state FROM alerts WHERE tenant_id = 'commune-a'") == [
        ("nouvelle",),
        ("nouvelle",),
    ]
    r = agent_b.post(f"{web.url}/api/v1/alerts", json={"camera_id": "a1", "title": "intrus"})
    assert r.status_code == 404
    denied = web.sql(
        "SELECT target FROM audit WHERE action = 'access.denied' AND actor = 'agent-b'"
    )
    assert {f"alert:{a_alert}", f"alert:{a_tenant_wide}", "a1"} <= {d[0] for d in denied}

    # the CSD operator, by convention, sees commune A's alerts and not B's
    listed = csd.get(f"{web.url}/api/v1/alerts").json()["alerts"]
    assert sorted(a["id"] for a in listed) == sorted([a_alert, a_tenant_wide])
    assert csd.get(f"{web.url}/api/v1/alerts/{a_alert}").status_code == 200
    assert csd.get(f"{web.url}/api/v1/alerts/{b_alert}").status_code == 404
    assert act(web, csd, a_alert, action="acknowledge").status_code == 200

    # inside the perimeter without the right: 403, audited
    r = viewer_a.get(f"{web.url}/api/v1/alerts/{a_alert}")
    assert r.status_code == 403
    assert message(r) == "Accès refusé : aucun droit « handle_alerts » sur commune-a."
    assert viewer_a.get(f"{web.url}/api/v1/alerts").json()["alerts"] == []
    assert web.sql(
        "SELECT target, detail->>'raison' FROM audit WHERE action = 'access.denied' "
        "AND actor = 'viewer-a'"
    ) == [(f"alert:{a_alert}", "aucun droit « handle_alerts » sur commune-a")]
    # no desk right at all: the stream is refused
    r = viewer_a.get(f"{web.url}/api/v1/alerts/stream")
    assert r.status_code == 403


async def _receive_alerts(
    ws: aiohttp.ClientWebSocketResponse, seconds: float
) -> list[dict[str, Any]]:
    """The alerts pushed on ``ws`` within ``seconds``."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        data = json.loads(msg.data)
        if data["type"] == "alert":
            got.append(data["alert"])
    return got


def open_stream(web: WebEnv, s: requests.Session, http: aiohttp.ClientSession) -> Any:
    ctx = ssl.create_default_context(cafile=str(web.cert))
    cookie = s.cookies.get("vms_session")
    return http.ws_connect(
        web.url.replace("https", "wss") + "/api/v1/alerts/stream",
        ssl=ctx,
        headers={"Cookie": f"vms_session={cookie}", "Origin": web.url},
    )


def test_stream_pushes_alerts_of_the_perimeter_only(web: WebEnv) -> None:
    csd = user(web, "op-csd", [("handle_alerts", "commune-a")])
    agent_b = user(web, "agent-b", [("handle_alerts", "commune-b")], tenant="commune-b")
    a_alert = add_alert(web, "a1", title="Secret A")

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        async with (
            aiohttp.ClientSession() as http,
            open_stream(web, csd, http) as ws_a,
            open_stream(web, agent_b, http) as ws_b,
        ):
            # a change through the API, a new alert from the desk (NOTIFY), in both communes
            r = await asyncio.to_thread(act, web, csd, a_alert, action="acknowledge")
            assert r.status_code == 200, r.text
            b_alert = await asyncio.to_thread(
                add_alert, web, "b1", tenant="commune-b", title="Alerte B", notify=True
            )
            new_a = await asyncio.to_thread(add_alert, web, "a2", title="Nouvelle A", notify=True)
            # within 3 s of the change, then nothing else
            got_a, got_b = await asyncio.gather(_receive_alerts(ws_a, 3), _receive_alerts(ws_b, 3))
            assert [a["id"] for a in got_b] == [b_alert]
        await asyncio.sleep(0.25)  # let the TLS connections close (aiohttp: graceful shutdown)
        return got_a, got_b, new_a

    got_a, got_b, new_a = run_client(run())
    assert [(a["id"], a["state"]) for a in got_a] == [
        (a_alert, "prise_en_compte"),
        (new_a, "nouvelle"),
    ]
    assert got_a[1]["title"] == "Nouvelle A" and got_a[1]["camera_name"] == "Gare"
    assert got_b[0]["title"] == "Alerte B" and "Secret A" not in json.dumps(got_b)


def test_a_full_socket_queue_never_delays_the_others(web: WebEnv) -> None:
    """The hub only offers messages: a console that stopped reading overflows and is
    closed, the others get the alert at once."""
    alert_id = add_alert(web, "a1", title="Secret A")
    grant_a = frozenset({Grant(Action.HANDLE_ALERTS, "commune-a")})
    grant_b = frozenset({Grant(Action.HANDLE_ALERTS, "commune-b")})
    principal = Principal(1, "op", Role.OPERATOR, "csd", grant_a, None, None)
    outsider = Principal(2, "b", Role.OPERATOR, "commune-b", grant_b, None, None)

    async def run() -> tuple[Subscriber, Subscriber, Subscriber]:
        pool = await open_async_pool(web.dsn, 1, 2)
        try:
            hub = AlertHub(SimpleNamespace(pool=pool, clock=SystemClock()))  # type: ignore[arg-type]
            slow, fast, other = (Subscriber(SimpleNamespace(principal=p))  # type: ignore[arg-type]
                                 for p in (principal, principal, outsider))  # fmt: skip
            for _ in range(QUEUE_SIZE):
                slow.offer("{}")
            hub.subscribers |= {slow, fast, other}
            payload = json.dumps({"id": alert_id, "tenant_id": "commune-a"})
            await asyncio.wait_for(hub.dispatch(payload), 5)
            await hub.dispatch("not json")  # logged and ignored
        finally:
            await pool.close()
        return slow, fast, other

    slow, fast, other = run_client(run())
    assert slow.overflowed.is_set() and slow.queue.qsize() == QUEUE_SIZE
    assert json.loads(fast.queue.get_nowait())["alert"]["id"] == alert_id
    assert not fast.overflowed.is_set() and other.queue.empty()


def test_closing_releases_the_protected_clip_and_reopening_restores_it(web: WebEnv) -> None:
    """The recorded range around an analytics alert is kept from the purge until the
    alert is closed (the analytics worker wrote the protection with the event)."""
    raised = datetime.now(UTC).replace(microsecond=0)
    alert_id = add_alert(web, "a1", raised_at=raised)
    web.sql(
        "INSERT INTO event_protections (event_id, event_at, camera_id, start_at, end_at) "
        "VALUES (41, %s, 'a1', %s, %s)",
        (raised, raised - timedelta(seconds=30), raised + timedelta(seconds=30)),
    )
    other = add_alert(web, "a2", raised_at=raised - timedelta(seconds=1))  # its own event
    op = user(web, "op", [("handle_alerts", "commune-a")])

    def released() -> list[tuple[Any, ...]]:
        return web.sql("SELECT released_at IS NOT NULL, released_by FROM event_protections")

    assert act(web, op, alert_id, action="acknowledge").status_code == 200
    assert released() == [(False, None)]  # still open: still protected
    r = act(web, op, alert_id, action="close", qualification="fausse_alerte", report="Ombre.")
    assert r.status_code == 200, r.text
    assert released() == [(True, "op")]
    # closing another alert leaves this protection as it is
    assert act(web, op, other, action="acknowledge").status_code == 200
    assert released() == [(True, "op")]
    r = act(web, op, alert_id, action="reopen", reason="Revu : c'était une personne.")
    assert r.status_code == 200, r.text
    assert released() == [(False, None)]


# -- maintenance windows: end early, cancel (docs/design/alerts.md, suppression rules) ----


def test_a_maintenance_in_force_ends_early_and_a_future_one_is_cancelled(web: WebEnv) -> None:
    admin = user(web, "tech", [("admin_cameras", "commune-a")])
    now = datetime.now(UTC)

    def declare(start: timedelta, end: timedelta, reason: str) -> int:
        r = admin.post(f"{web.url}/api/v1/maintenance", json={
            "camera_id": "a1", "from_at": (now + start).isoformat(),
            "to_at": (now + end).isoformat(), "reason": reason})  # fmt: skip
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    running = declare(-timedelta(minutes=5), timedelta(hours=2), "Nettoyage du dôme")
    future = declare(timedelta(days=1), timedelta(days=1, hours=1), "Élagage")
    url = f"{web.url}/api/v1/maintenance"

    # refused: another commune's administrator (404), an operator of the desk (403)
    other = user(web, "techb", [("admin_cameras", "commune-b")])
    assert other.post(f"{url}/{running}/end").status_code == 404
    op = user(web, "op", [("handle_alerts", "commune-a")])
    assert op.post(f"{url}/{running}/end").status_code == 403
    assert op.delete(f"{url}/{future}").status_code == 403
    assert admin.post(f"{url}/999999/end").status_code == 404
    refused = web.sql("SELECT actor, target FROM audit WHERE action LIKE 'access.%%' "
                      "AND target LIKE 'maintenance:%%' ORDER BY seq")  # fmt: skip
    assert refused == [("techb", f"maintenance:{running}"), ("op", f"maintenance:{running}"),
                       ("op", f"maintenance:{future}"), ("tech", "maintenance:999999")]  # fmt: skip

    # a window not started is cancelled, not ended; ended: its end brought to now
    r = admin.post(f"{url}/{future}/end")
    assert r.status_code == 409
    assert message(r) == "Cette maintenance n'a pas commencé : annulez-la plutôt."
    r = admin.post(f"{url}/{running}/end")
    assert r.status_code == 200, r.text
    ended = datetime.fromisoformat(r.json()["to_at"])
    assert now <= ended <= datetime.now(UTC)
    assert r.json()["reason"] == "Nettoyage du dôme"
    (entry,) = audit(web, "maintenance.end")
    assert entry[:3] == ("tech", "commune-a", f"maintenance:{running}")
    assert entry[3]["camera"] == "a1" and entry[3]["fin"] == r.json()["to_at"]
    r = admin.post(f"{url}/{running}/end")
    assert (r.status_code, message(r)) == (409, "Cette maintenance est déjà terminée.")
    assert [w["id"] for w in admin.get(url).json()["windows"]] == [future]
    past = admin.get(url, params={"past": "1"}).json()["windows"]
    assert [w["id"] for w in past] == [future, running]

    assert admin.delete(f"{url}/{future}").status_code == 204
    assert admin.get(url).json()["windows"] == []
    assert [e[2] for e in audit(web, "maintenance.delete")] == [f"maintenance:{future}"]
    # none in force any more: the camera's alerts are raised as usual again
    in_force = ("SELECT count(*) FROM camera_maintenance WHERE camera_id = 'a1' AND "
                "deleted_at IS NULL AND from_at <= now() AND to_at > now()")  # fmt: skip
    assert web.sql(in_force) == [(0,)]


def test_a_technical_alert_without_camera_is_listed_for_its_whole_commune(web: WebEnv) -> None:
    alert = add_alert(web, None, source="technique", kind="technique",
                      title="Espace de stockage insuffisant")  # fmt: skip
    web.sql("INSERT INTO tickets (tenant_id, camera_id, alert_id, dedup_key, declarer, element, "
            "site, description, opened_at) VALUES ('commune-a', NULL, %s, "
            "'commune:commune-a:espace_stockage_faible:a', 'systeme', 'Réplique a', "
            "'Commune A', 'Espace de stockage insuffisant', now())", (alert,))  # fmt: skip
    admin = user(web, "tech", [("admin_cameras", "commune-a")])
    listed = admin.get(f"{web.url}/api/v1/alerts").json()["alerts"]
    assert [(a["id"], a["camera_id"]) for a in listed] == [(alert, None)]
    card = admin.get(f"{web.url}/api/v1/alerts/{alert}")
    assert card.status_code == 200, card.text
    tickets = admin.get(f"{web.url}/api/v1/tickets").json()["tickets"]
    assert [(t["alert_id"], t["camera_id"], t["element"]) for t in tickets] == [
        (alert, None, "Réplique a")
    ]
    # a technician of one camera group only: the commune's alert is not theirs
    group = user(web, "techga", [("admin_cameras", "commune-a", "ga")])
    assert group.get(f"{web.url}/api/v1/alerts").json()["alerts"] == []
    assert group.get(f"{web.url}/api/v1/alerts/{alert}").status_code == 404
