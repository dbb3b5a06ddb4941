"""The analytics rule engine, driven by small synthetic track fixtures (4 fps)."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from analytics.rules import (
    AbandonedObject,
    ClassAlarm,
    CrowdMovement,
    Density,
    Detection,
    Event,
    Frame,
    GeometryError,
    LineCrossing,
    PersonOnGround,
    RuleEngine,
    WrongWay,
    ZoneIntrusion,
)
from analytics.rules.config import (
    CameraAnalyticsConfig,
    TimeWindow,
    forbidden_category,
    parse_camera_analytics,
)
from vms.errors import ErrorKind, VmsError

CAM = "cam-1"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Paris
FPS = 4
SQUARE = [[0.4, 0.4], [0.8, 0.4], [0.8, 0.8], [0.4, 0.8]]


def person(tid: int, x: float, y: float, w: float = 0.05, h: float = 0.15, cls: str = "person",
           conf: float = 0.9) -> Detection:  # fmt: skip
    """A detection whose reference point (bottom centre) is (x, y)."""
    return Detection(tid, cls, conf, (x - w / 2, y - h, x + w / 2, y))


def frame(t_s: float, *dets: Detection, blobs: Iterable[tuple[float, float, float, float]] = (),
          start: datetime = T0) -> Frame:  # fmt: skip
    return Frame(CAM, start + timedelta(seconds=t_s), tuple(dets), tuple(blobs))


def walk(tid: int, a: tuple[float, float], b: tuple[float, float], duration_s: float,
         t0_s: float = 0.0) -> Iterator[tuple[float, Detection]]:  # fmt: skip
    """(time, detection) of a track walking from a to b at 4 fps."""
    n = round(duration_s * FPS)
    for i in range(n + 1):
        f = i / n
        yield t0_s + i / FPS, person(tid, a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


def still(tid: int, p: tuple[float, float], duration_s: float, t0_s: float = 0.0,
          **kw: float | str) -> Iterator[tuple[float, Detection]]:  # fmt: skip
    for i in range(round(duration_s * FPS) + 1):
        yield t0_s + i / FPS, person(tid, *p, **kw)  # type: ignore[arg-type]


def run(rule: object, samples: Iterable[tuple[float, Detection]]) -> list[Event]:
    events: list[Event] = []
    for t, d in samples:
        events.extend(rule.step(frame(t, d)))  # type: ignore[attr-defined]
    return events


# -- geometry ---------------------------------------------------------------------------


def test_invalid_polygons_raise_french_geometry_errors() -> None:
    with pytest.raises(GeometryError, match="au moins 3 points"):
        ZoneIntrusion("z", [[0, 0], [1, 1]], ["person"])
    with pytest.raises(GeometryError, match="croisé"):
        ZoneIntrusion("z", [[0, 0], [1, 1], [1, 0], [0, 0.5]], ["person"])
    with pytest.raises(GeometryError, match="dégénéré"):
        ZoneIntrusion("z", [[0, 0], [0.5, 0.5], [1, 1]], ["person"])
    with pytest.raises(GeometryError, match="entre 0 et 1"):
        ZoneIntrusion("z", [[0, 0], [2, 0], [0, 1]], ["person"])
    err = pickle.loads(pickle.dumps(GeometryError("polygone", "d")))
    assert isinstance(err, GeometryError) and err.kind is ErrorKind.INVALID_ARGUMENT


# -- zone intrusion ---------------------------------------------------------------------


@pytest.mark.parametrize(("stay_s", "expected"), [(3, 0), (10, 1)])
def test_intrusion_needs_the_dwell_and_fires_once(stay_s: float, expected: int) -> None:
    rule = ZoneIntrusion("zone", SQUARE, ["person"], min_dwell_s=5)
    track = [*walk(1, (0.2, 0.6), (0.6, 0.6), 2), *still(1, (0.6, 0.6), stay_s, 2.25)]
    events = run(rule, track)
    assert len(events) == expected
    if events:
        assert events[0].rule_kind == "intrusion" and events[0].track_id == 1
        assert events[0].label == "Présence dans la zone « zone »"


def test_crossing_mode_ignores_a_track_that_appears_inside() -> None:
    rule = ZoneIntrusion("z", SQUARE, ["person"], mode="franchissement")
    assert run(rule, still(1, (0.6, 0.6), 3)) == []
    events = run(rule, walk(2, (0.2, 0.6), (0.6, 0.6), 2))
    assert [e.track_id for e in events] == [2]


def test_intrusion_ignores_other_classes_and_low_confidence() -> None:
    rule = ZoneIntrusion("z", SQUARE, ["person"], min_confidence=0.5)
    assert rule.step(frame(0, person(1, 0.6, 0.6, cls="car"))) == []
    assert rule.step(frame(0, person(2, 0.6, 0.6, conf=0.2))) == []


# -- line crossing counting ---------------------------------------------------------------


def test_line_crossing_counts_per_direction_and_class() -> None:
    # a vertical line drawn bottom to top: "direct" is left to right
    rule = LineCrossing("ligne", (0.5, 1.0), (0.5, 0.0), ["person", "car"])
    there = run(rule, walk(1, (0.2, 0.6), (0.8, 0.6), 3))
    back = run(rule, walk(1, (0.8, 0.6), (0.2, 0.6), 3, t0_s=3.25))
    car = run(
        rule, ((t, Detection(7, "car", 0.8, d.box)) for t, d in walk(7, (0.1, 0.9), (0.9, 0.9), 2))
    )
    assert [e.detail["direction"] for e in [*there, *back, *car]] == ["direct", "inverse", "direct"]
    assert all(e.rule_kind == "comptage" for e in [*there, *back, *car])
    assert rule.counter.total("direct", "person") == 1
    assert rule.counter.total("inverse", "person") == 1
    assert rule.counter.total("direct", "car") == 1
    # passing beyond the end of the segment is no crossing
    rule2 = LineCrossing("court", (0.5, 0.5), (0.5, 0.0), ["person"])
    assert run(rule2, walk(4, (0.2, 0.8), (0.8, 0.8), 3)) == []


def test_counter_buckets_by_15_minutes_hour_and_local_day() -> None:
    rule = LineCrossing("l", (0.5, 1.0), (0.5, 0.0), ["person"])
    start = datetime(2026, 3, 2, 22, 50, tzinfo=UTC)  # 23:50 in Paris
    for k, minutes in enumerate((0, 5, 12, 20, 75)):  # 22:50, 22:55, 23:02, 23:10, 00:05 UTC
        t0 = start + timedelta(minutes=minutes)
        for t, d in walk(k, (0.2, 0.5), (0.8, 0.5), 1):
            rule.step(frame(t, d, start=t0))
    quarters = rule.counter.buckets("15min")
    assert [(b.start.strftime("%H:%M"), b.counts[("direct", "person")]) for b in quarters] == [
        ("22:45", 2), ("23:00", 2), ("00:00", 1),
    ]  # fmt: skip
    assert all(b.end - b.start == timedelta(minutes=15) for b in quarters)
    assert [b.counts[("direct", "person")] for b in rule.counter.buckets("hour")] == [2, 2, 1]
    days = rule.counter.buckets("day")  # Paris days: 2 March (23:50, 23:55), 3 March
    assert [(b.start.date(), b.counts[("direct", "person")]) for b in days] == [
        (date(2026, 3, 2), 2), (date(2026, 3, 3), 3),
    ]  # fmt: skip
    assert days[0].start.utcoffset() == timedelta(hours=1)
    assert days[0].end == days[1].start


# -- wrong way ------------------------------------------------------------------------------

LANE = [[0.0, 0.3], [1.0, 0.3], [1.0, 0.7], [0.0, 0.7]]


def test_wrong_way_fires_once_against_the_direction_only() -> None:
    rule = WrongWay("voie", LANE, (1.0, 0.0), ["car"], min_distance=0.1)

    def car(samples: Iterable[tuple[float, Detection]]) -> Iterator[tuple[float, Detection]]:
        return ((t, Detection(d.track_id, "car", 0.9, d.box)) for t, d in samples)

    assert run(rule, car(walk(1, (0.1, 0.5), (0.9, 0.5), 4))) == []  # the right way
    assert run(rule, car(walk(2, (0.5, 0.5), (0.5, 0.45), 1))) == []  # too short to judge
    events = run(rule, car(walk(3, (0.9, 0.5), (0.1, 0.5), 4)))
    assert [(e.track_id, e.rule_kind) for e in events] == [(3, "contresens")]
    assert float(str(events[0].detail["angle_deg"])) > 170
    assert run(rule, car(walk(4, (0.9, 0.1), (0.1, 0.1), 4))) == []  # outside the lane


# -- person on the ground ---------------------------------------------------------------


@pytest.mark.parametrize(("down_s", "expected"), [(1, 0), (4, 1)])
def test_fall_by_geometry_needs_the_duration(down_s: float, expected: int) -> None:
    rule = PersonOnGround("chute", min_duration_s=3)
    lying = still(1, (0.5, 0.8), down_s, 1.25, w=0.2, h=0.08)
    events = run(rule, [*still(1, (0.5, 0.8), 1), *lying, *still(1, (0.5, 0.8), 1, down_s + 1.5)])
    assert len(events) == expected
    if events:
        assert events[0].detail["by"] == "geometry"


def test_fall_class_of_the_model_and_a_second_fall_after_standing() -> None:
    rule = PersonOnGround("chute", fall_classes=["Fall"], use_geometry=False, min_duration_s=2)
    first = run(rule, still(1, (0.5, 0.8), 3, cls="Fall"))
    run(rule, still(1, (0.5, 0.8), 1, 3.25))  # stands up: the episode ends
    second = run(rule, still(1, (0.5, 0.8), 3, 4.5, cls="Fall"))
    assert len(first) == len(second) == 1 and first[0].detail["by"] == "class"


# -- abandoned object ---------------------------------------------------------------------

BAG = (0.5, 0.7, 0.55, 0.76)


def test_abandoned_blob_without_anyone_near_fires_once() -> None:
    rule = AbandonedObject("objet", min_static_s=10, person_absent_s=5, person_radius=0.1)
    events = []
    for i in range(15 * FPS):
        events += rule.step(frame(i / FPS, blobs=[BAG]))
    assert len(events) == 1
    assert events[0].rule_kind == "objet_abandonne" and events[0].cls == "objet"
    assert events[0].at == T0 + timedelta(seconds=10)


def test_bag_with_its_owner_next_to_it_is_not_abandoned() -> None:
    rule = AbandonedObject("objet", min_static_s=10, person_absent_s=5, object_classes=["suitcase"])
    bag = Detection(9, "suitcase", 0.8, BAG)
    events = []
    for i in range(20 * FPS):
        owner = person(1, 0.6, 0.78)
        events += rule.step(frame(i / FPS, bag, owner, blobs=[BAG]))
    assert events == []
    # the owner walks away: 5 s later the bag is abandoned
    for i in range(20 * FPS, 26 * FPS):
        events += rule.step(frame(i / FPS, bag, person(1, 0.1, 0.9), blobs=[BAG]))
    assert [(e.cls, e.track_id) for e in events] == [("suitcase", 9)]
    assert events[0].at == T0 + timedelta(seconds=24.75)  # owner last near at 19.75 s


# -- density and crowd movement ------------------------------------------------------------


def test_density_above_threshold_sustained() -> None:
    rule = Density("foule", SQUARE, area_m2=10, max_per_m2=0.5, min_duration_s=5)
    events = []
    for i in range(12 * FPS):
        n = 3 if i < 2 * FPS else 8  # 0.3 then 0.8 people per m²
        people = [person(k, 0.45 + 0.04 * k, 0.6) for k in range(n)]
        events += rule.step(frame(i / FPS, *people))
    assert len(events) == 1
    assert events[0].detail["count"] == 8 and events[0].detail["density_per_m2"] == 0.8
    assert events[0].at == T0 + timedelta(seconds=7)
    assert events[0].label == "Densité excessive : 0.80 personne(s) par m² (« foule »)"


def test_sudden_crowd_run_fires_once() -> None:
    rule = CrowdMovement("mvt", [[0, 0], [1, 0], [1, 1], [0, 1]], factor=3, min_tracks=5,
                         baseline_s=30, min_baseline_samples=20)  # fmt: skip
    events = []
    x = 0.1
    for i in range(40 * FPS):
        t = i / FPS
        # strolling at 0.01/s for 30 s, everybody runs at 0.2/s for 2 s, then they stop
        x += (0.01 if t < 30 else 0.2 if t < 32 else 0.0) / FPS
        dets = [person(k, x + 0.02 * k, 0.2 + 0.1 * k) for k in range(6)]
        events += rule.step(frame(t, *dets))
    assert len(events) == 1
    assert events[0].rule_kind == "mouvement_foule" and events[0].detail["tracks"] == 6
    assert events[0].at == T0 + timedelta(seconds=30)
    # too few tracks: no crowd
    few = CrowdMovement("mvt", [[0, 0], [1, 0], [1, 1], [0, 1]], min_tracks=5)
    assert run(few, walk(1, (0.1, 0.5), (0.9, 0.5), 1)) == []


# -- fire and weapon ----------------------------------------------------------------------


def test_class_alarm_needs_confidence_and_duration() -> None:
    rule = ClassAlarm("feu", "depart_de_feu", ["fire", "smoke"], min_confidence=0.6,
                      min_duration_s=1)  # fmt: skip
    flame = Detection(0, "fire", 0.9, (0.1, 0.1, 0.2, 0.2))
    weak = Detection(0, "fire", 0.3, (0.1, 0.1, 0.2, 0.2))
    assert [e for i in range(12) for e in rule.step(frame(i / FPS, weak))] == []
    events = [e for i in range(12, 24) for e in rule.step(frame(i / FPS, flame))]
    assert [(e.rule_kind, e.cls, e.at) for e in events] == [
        ("depart_de_feu", "fire", T0 + timedelta(seconds=4))
    ]


# -- configuration, legal basis, schedules ---------------------------------------------------


def camera(*rules: dict[str, object], **over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "camera_id": CAM,
        "legal_basis": {
            "reference": "Arrêté préfectoral n° 2026-042",
            "valid_from": date(2026, 3, 1),
            "valid_to": date(2026, 3, 31),
        },
        "models": [
            {
                "id": "coco",
                "name": "yolo11n",
                "version": "8.3.0",
                "classes": ["person", "car", "suitcase"],
            }
        ],
        "rules": list(rules),
    }
    data.update(over)
    return data


ZONE_RULE: dict[str, object] = {"id": "quai", "kind": "intrusion", "zone": SQUARE}


def engine_events(engine: RuleEngine, start: datetime, seconds: float) -> list[Event]:
    return [
        e
        for t, d in [*walk(1, (0.2, 0.6), (0.6, 0.6), 2), *still(1, (0.6, 0.6), seconds, 2.25)]
        for e in engine.step(frame(t, d, start=start))
    ]


def test_engine_runs_rules_and_records_the_model() -> None:
    engine = RuleEngine(parse_camera_analytics(camera(ZONE_RULE)))
    events = engine_events(engine, T0, 1)
    assert [(e.rule_id, e.model) for e in events] == [("quai", "yolo11n 8.3.0")]
    assert set(engine.tracks()) == {1}


def test_no_analysis_outside_the_legal_basis() -> None:
    engine = RuleEngine(parse_camera_analytics(camera(ZONE_RULE)))
    paris_april = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # already 1 April in Paris
    assert engine_events(engine, paris_april, 3) == []
    assert engine_events(engine, datetime(2026, 2, 28, 12, tzinfo=UTC), 3) == []
    assert engine.tracks() == {}


def test_schedule_windows_in_paris_time() -> None:
    night = {**ZONE_RULE, "schedule": [{"days": ["lun"], "start": time(22), "end": time(6)}]}
    engine = RuleEngine(parse_camera_analytics(camera(night)))
    assert engine_events(engine, T0, 3) == []  # Monday 11:00: outside hours
    tuesday_2am = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # 02:00 in Paris, after Monday night
    assert len(engine_events(RuleEngine(engine.camera), tuesday_2am, 3)) == 1
    window = TimeWindow(days=["sam", "dim"], start=time(8), end=time(8))
    assert window.contains(datetime(2026, 3, 7, 12, tzinfo=UTC))
    assert not window.contains(T0)


def test_engine_exposes_the_counters() -> None:
    rule: dict[str, object] = {
        "id": "passage",
        "kind": "comptage",
        "a": [0.5, 1.0],
        "b": [0.5, 0.0],
    }
    engine = RuleEngine(parse_camera_analytics(camera(rule)))
    for t, d in walk(1, (0.2, 0.6), (0.8, 0.6), 3):
        engine.step(frame(t, d))
    assert engine.counters["passage"].total("direct", "person") == 1


def french_error(data: dict[str, object]) -> str:
    with pytest.raises(VmsError) as exc:
        parse_camera_analytics(data)
    assert exc.value.kind is ErrorKind.INVALID_ARGUMENT
    return exc.value.message


def test_legal_basis_is_required_and_dated() -> None:
    assert "exige une base légale" in french_error(camera(ZONE_RULE, legal_basis=None))
    assert "LAW-10" in french_error(camera(ZONE_RULE, legal_basis=None))
    bad = {"reference": "AP 1", "valid_from": date(2026, 3, 2), "valid_to": date(2026, 3, 1)}
    assert "précède son début" in french_error(camera(ZONE_RULE, legal_basis=bad))
    # a disabled camera may keep its rules without a basis
    assert not CameraAnalyticsConfig.model_validate(
        camera(ZONE_RULE, legal_basis=None, enabled=False)
    ).enabled


@pytest.mark.parametrize(
    ("classes", "what"),
    [
        (["person", "face"], "reconnaissance faciale"),
        (["person", "Visage"], "reconnaissance faciale"),
        (["person_age"], "attributs"),
        (["Gender"], "attributs"),
        (["vêtement_rouge"], "attributs"),
        (["re-id"], "réidentification"),
        (["biométrie"], "biométrique"),
        (["licensePlate"], "plaques"),
    ],
)
def test_forbidden_model_classes_are_refused(classes: list[str], what: str) -> None:
    model = {"id": "m", "name": "n", "version": "1", "classes": classes}
    message = french_error(camera(models=[model], rules=[]))
    assert "loi 2023-380, art. 10" in message and what in message


def test_forbidden_rule_kinds_and_model_names_are_refused() -> None:
    message = french_error(camera({"id": "r", "kind": "reconnaissance_faciale"}))
    assert message.startswith(
        "Configuration d'analyse invalide, champ « rules » : Analyse interdite"
    )
    model = {"id": "m", "name": "arcface-r100", "version": "1", "classes": ["person"]}
    assert "LAW-10" in french_error(camera(models=[model]))


def test_the_forbidden_list_spares_ordinary_classes() -> None:
    for ok in ("person", "luggage", "package", "backpack", "handbag", "surface", "Fall", "fire"):
        assert forbidden_category(ok) is None, ok


def test_other_configuration_errors_are_french() -> None:
    assert "ne produit pas" in french_error(camera({**ZONE_RULE, "classes": ["bicycle"]}))
    assert "polygone croisé" in french_error(
        camera({**ZONE_RULE, "zone": [[0, 0], [1, 1], [1, 0], [0, 0.5]]})
    )
    assert "champ inconnu" in french_error(camera({**ZONE_RULE, "color": "red"}))
    assert "en double" in french_error(camera(ZONE_RULE, ZONE_RULE))
    assert "modèle inconnu" in french_error(camera({**ZONE_RULE, "model": "autre"}))
    weapon: dict[str, object] = {"id": "arme", "kind": "arme", "classes": ["gun"]}
    assert "« gun »" in french_error(camera(weapon))
