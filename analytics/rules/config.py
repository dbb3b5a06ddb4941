"""Configuration of the rule engine: per camera, a legal basis, models and rules.

Validation does no IO and refuses, with a French message citing LAW-10, every analysis
the law excludes (loi 2023-380 art. 10, décret 2023-828): face detection or
recognition, re-identification, person attributes, biometrics, plate reading. Only the
decree's events and anonymous counting have a rule kind.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from analytics.rules.counting import local_tz
from analytics.rules.geometry import GeometryError, validate_line, validate_polygon
from vms.config import first_error
from vms.errors import invalid
from vms.messages import FORBIDDEN_WHAT, msg

# -- what LAW-10 excludes ------------------------------------------------------------

_FORBIDDEN_WORDS = {
    "face": "face faces facial faciale faciaux visage visages faceid",
    "reid": "reid reidentification reidentify reidentifier",
    "attribute": (
        "gender genre sex sexe age ages agegroup ethnicity ethnie ethnique race emotion "
        "emotions attribute attributes attribut attributs clothing clothes vetement "
        "vetements hair cheveux beard barbe skin peau mood humeur"
    ),
    "biometric": (
        "biometric biometrics biometrique biometriques biometrie iris fingerprint gait "
        "demarche identity identite identification recognition reconnaissance landmark "
        "landmarks"
    ),
    "plate": "plate plates plaque plaques lapi anpr alpr lpr",
}
_FORBIDDEN_TOKENS = {w: cat for cat, words in _FORBIDDEN_WORDS.items() for w in words.split()}
_FORBIDDEN_PAIRS = {("re", "id"): "reid", ("re", "identification"): "reid"}
_FORBIDDEN_INFIXES = {
    "facial": "face", "arcface": "face", "retinaface": "face", "insightface": "face",
    "facenet": "face", "facerecog": "face", "facedetect": "face", "reident": "reid",
    "personattribute": "attribute", "biometr": "biometric", "gender": "attribute",
    "ethnic": "attribute", "fingerprint": "biometric", "licenseplate": "plate",
    "numberplate": "plate",
}  # fmt: skip


def _fold(name: str) -> str:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)  # camelCase -> camel Case
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def forbidden_category(name: str) -> str | None:
    """The LAW-10 category ("face", "reid", "attribute", "biometric", "plate") a class,
    model or rule name falls in, or None. Conservative: "luggage" passes, "age" not."""
    folded = _fold(name)
    tokens = re.findall(r"[a-z0-9]+", folded)
    for t in tokens:
        if t in _FORBIDDEN_TOKENS:
            return _FORBIDDEN_TOKENS[t]
    for pair in itertools.pairwise(tokens):
        if pair in _FORBIDDEN_PAIRS:
            return _FORBIDDEN_PAIRS[pair]
    squashed = "".join(tokens)
    for infix, category in _FORBIDDEN_INFIXES.items():
        if infix in squashed:
            return category
    return None


def check_lawful(name: str) -> str:
    """Return ``name``, or raise ValueError (French, citing LAW-10) if the law excludes it."""
    category = forbidden_category(name)
    if category is not None:
        raise ValueError(
            msg("analytics.config.forbidden", name=name, what=FORBIDDEN_WHAT[category])
        )
    return name


# -- field types -----------------------------------------------------------------------

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"),
]
ClassName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(check_lawful)]
PicturePoint = Annotated[
    list[float],
    Field(min_length=2, max_length=2, description="[x, y] normalised to the picture (0..1)."),
]
Zone = Annotated[
    list[PicturePoint],
    Field(min_length=3, max_length=32, description="Polygon vertices in contour order."),
]
Day = Literal["lun", "mar", "mer", "jeu", "ven", "sam", "dim"]
DAYS: tuple[Day, ...] = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")


def _polygon(v: list[list[float]]) -> list[list[float]]:
    try:
        validate_polygon(v)
    except GeometryError as err:
        raise ValueError(err.message) from err
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TimeWindow(_Model):
    """A weekly window in Europe/Paris local time. ``end`` <= ``start`` runs past
    midnight (it belongs to the day it starts); ``start`` == ``end`` is the whole day."""

    days: list[Day] = Field(
        default_factory=lambda: list(DAYS),
        min_length=1,
        max_length=7,
        description="Days the window starts on: lun, mar, mer, jeu, ven, sam, dim.",
    )
    start: time = Field(description="Local start time (TOML time, e.g. 22:00:00).")
    end: time = Field(description="Local end time, excluded.")

    @field_validator("days")
    @classmethod
    def _unique_days(cls, v: list[Day]) -> list[Day]:
        for day in DAYS:
            if v.count(day) > 1:
                raise ValueError(msg("analytics.config.duplicate_day", day=day))
        return v

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(local_tz())
        now = local.time().replace(tzinfo=None)
        today, yesterday = DAYS[local.weekday()], DAYS[(local.weekday() - 1) % 7]
        if self.start == self.end:
            return today in self.days
        if self.start < self.end:
            return today in self.days and self.start <= now < self.end
        return (today in self.days and now >= self.start) or (
            yesterday in self.days and now < self.end
        )


class LegalBasis(_Model):
    """The prefectoral order that authorises analytics on a camera (LAW-10)."""

    reference: str = Field(
        min_length=3, max_length=200, description="Reference of the prefectoral order."
    )
    valid_from: date = Field(description="First day of validity (local date, included).")
    valid_to: date = Field(description="Last day of validity (local date, included).")

    @model_validator(mode="after")
    def _dates(self) -> LegalBasis:
        if self.valid_to < self.valid_from:
            raise ValueError(
                msg(
                    "analytics.config.legal_basis_dates",
                    valid_from=self.valid_from,
                    valid_to=self.valid_to,
                )
            )
        return self

    def active(self, at: datetime) -> bool:
        """Whether analytics may run at ``at`` (an aware datetime)."""
        return self.valid_from <= at.astimezone(local_tz()).date() <= self.valid_to


class DetectorModelConfig(_Model):
    """A detector whose classes the rules use; recorded with every alert (LAW-10)."""

    id: Identifier = Field(description="Model id, as frames name it.")
    name: str = Field(min_length=1, max_length=100, description="Model name, e.g. 'yolo11n-coco'.")
    version: str = Field(min_length=1, max_length=100, description="Model version or hash.")
    classes: list[ClassName] = Field(
        min_length=1, max_length=1000, description="Every class the model can output."
    )

    @field_validator("name")
    @classmethod
    def _lawful_name(cls, v: str) -> str:
        return check_lawful(v)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


class _RuleBase(_Model):
    id: Identifier = Field(description="Rule id, unique on the camera.")
    enabled: bool = Field(True, description="Run this rule.")
    model: Identifier | None = Field(
        None, description="Model whose frames the rule reads; empty: the camera's first."
    )
    schedule: list[TimeWindow] = Field(
        default_factory=list,
        max_length=28,
        description="When the rule runs (Europe/Paris); empty: always.",
    )
    min_confidence: float = Field(
        0.3, ge=0, le=1, description="Detections under this confidence are ignored."
    )

    def in_schedule(self, at: datetime) -> bool:
        return not self.schedule or any(w.contains(at) for w in self.schedule)

    def class_names(self) -> Iterable[str]:
        """Every model class this rule reads."""
        return ()


def _classes_field(default: tuple[str, ...] | None = None, what: str = "Classes read.") -> Any:
    """A list of class names: required (at least one) or with a default."""
    if default is None:
        return Field(min_length=1, max_length=50, description=what)
    return Field(default_factory=lambda: list(default), max_length=50, description=what)


class IntrusionRuleConfig(_RuleBase):
    kind: Literal["intrusion"] = Field(description="Zone intrusion.")
    zone: Zone = Field(description="The forbidden or sensitive zone.")
    classes: list[ClassName] = _classes_field(("person",))
    min_dwell_s: float = Field(0.0, ge=0, le=3600, description="Seconds inside before alerting.")
    mode: Literal["presence", "franchissement"] = Field(
        "presence",
        description="'presence': any track inside; 'franchissement': only tracks that "
        "were seen outside first.",
    )

    _zone = field_validator("zone")(_polygon)

    def class_names(self) -> Iterable[str]:
        return self.classes


class CountingRuleConfig(_RuleBase):
    kind: Literal["comptage"] = Field(description="Anonymous counting across a line.")
    a: PicturePoint = Field(description="First end of the line.")
    b: PicturePoint = Field(
        description="Second end; 'direct' crossings go towards the side reached by "
        "turning a->b a quarter turn clockwise on screen."
    )
    classes: list[ClassName] = _classes_field(("person",))

    @model_validator(mode="after")
    def _line(self) -> CountingRuleConfig:
        try:
            validate_line(self.a, self.b)
        except GeometryError as err:
            raise ValueError(err.message) from err
        return self

    def class_names(self) -> Iterable[str]:
        return self.classes


class WrongWayRuleConfig(_RuleBase):
    kind: Literal["contresens"] = Field(description="Movement against the traffic.")
    lane: Zone = Field(description="The lane where the direction applies.")
    direction: Annotated[list[float], Field(min_length=2, max_length=2)] = Field(
        description="Allowed direction [dx, dy] in picture coordinates (y downwards)."
    )
    classes: list[ClassName] = _classes_field(None)
    min_distance: float = Field(
        0.1, gt=0, le=1, description="Displacement (picture widths) before judging."
    )
    max_angle_deg: float = Field(
        120.0, ge=90, le=180, description="Angle to the allowed direction beyond which it alerts."
    )
    window_s: float = Field(5.0, gt=0, le=120, description="Displacement measured over this.")

    _lane = field_validator("lane")(_polygon)

    @field_validator("direction")
    @classmethod
    def _vector(cls, v: list[float]) -> list[float]:
        if abs(v[0]) + abs(v[1]) == 0:
            raise ValueError(msg("analytics.geometry.vector_null"))
        return v

    def class_names(self) -> Iterable[str]:
        return self.classes


class OnGroundRuleConfig(_RuleBase):
    kind: Literal["personne_au_sol"] = Field(description="Person on the ground after a fall.")
    fall_classes: list[ClassName] = _classes_field((), "Model classes meaning 'fallen'.")
    person_classes: list[ClassName] = _classes_field(("person",), "Classes of people.")
    use_geometry: bool = Field(True, description="Also judge by the box's width/height ratio.")
    min_ratio: float = Field(1.2, ge=1, le=10, description="Width/height ratio of a lying box.")
    min_duration_s: float = Field(3.0, ge=0, le=600, description="Seconds down before alerting.")

    @model_validator(mode="after")
    def _some_class(self) -> OnGroundRuleConfig:
        if not self.fall_classes and not self.use_geometry:
            raise ValueError(msg("analytics.config.no_class", rule_id=self.id))
        return self

    def class_names(self) -> Iterable[str]:
        return [*self.fall_classes, *self.person_classes]


class AbandonedRuleConfig(_RuleBase):
    kind: Literal["objet_abandonne"] = Field(description="Abandoned object.")
    min_static_s: float = Field(60.0, ge=1, le=3600, description="Seconds static before alerting.")
    person_absent_s: float = Field(
        30.0, ge=0, le=3600, description="Seconds with no person within the radius."
    )
    person_radius: float = Field(
        0.1, gt=0, le=1, description="Radius around the object (picture widths)."
    )
    person_classes: list[ClassName] = _classes_field(("person",), "Classes of people.")
    object_classes: list[ClassName] = _classes_field((), "Detector classes of bags and objects.")

    def class_names(self) -> Iterable[str]:
        return [*self.person_classes, *self.object_classes]


class DensityRuleConfig(_RuleBase):
    kind: Literal["densite"] = Field(description="Excessive density.")
    zone: Zone = Field(description="The calibrated zone.")
    area_m2: float = Field(gt=0, le=1_000_000, description="Real ground area of the zone, m².")
    max_per_m2: float = Field(gt=0, le=20, description="People per m² beyond which it alerts.")
    min_duration_s: float = Field(10.0, ge=0, le=3600, description="Seconds above before alerting.")
    person_classes: list[ClassName] = _classes_field(("person",), "Classes of people.")

    _zone = field_validator("zone")(_polygon)

    def class_names(self) -> Iterable[str]:
        return self.person_classes


class CrowdMovementRuleConfig(_RuleBase):
    kind: Literal["mouvement_foule"] = Field(description="Sudden collective motion.")
    zone: Zone = Field(description="Zone watched.")
    factor: float = Field(3.0, gt=1, le=100, description="Jump of the mean speed over its median.")
    min_tracks: int = Field(5, ge=2, le=1000, description="Moving tracks needed in the zone.")
    min_speed: float = Field(
        0.05, ge=0, le=10, description="Mean speed (picture widths per second) needed."
    )
    baseline_s: float = Field(60.0, ge=5, le=3600, description="Window of the running median.")
    min_baseline_samples: int = Field(
        20, ge=1, le=10_000, description="Samples the median needs first."
    )
    person_classes: list[ClassName] = _classes_field(("person",), "Classes of people.")

    _zone = field_validator("zone")(_polygon)

    def class_names(self) -> Iterable[str]:
        return self.person_classes


class ClassAlarmRuleConfig(_RuleBase):
    kind: Literal["arme", "depart_de_feu"] = Field(description="Weapon or fire outbreak.")
    classes: list[ClassName] = _classes_field(None)
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="Detections under this confidence are ignored."
    )
    min_duration_s: float = Field(1.0, ge=0, le=600, description="Seconds seen before alerting.")
    gap_s: float = Field(2.0, gt=0, le=60, description="Unseen this long ends an episode.")

    def class_names(self) -> Iterable[str]:
        return self.classes


RuleConfig = Annotated[
    IntrusionRuleConfig
    | CountingRuleConfig
    | WrongWayRuleConfig
    | OnGroundRuleConfig
    | AbandonedRuleConfig
    | DensityRuleConfig
    | CrowdMovementRuleConfig
    | ClassAlarmRuleConfig,
    Field(discriminator="kind"),
]


class CameraAnalyticsConfig(_Model):
    camera_id: Identifier = Field(description="The camera (vms config id).")
    enabled: bool = Field(True, description="Run analytics on this camera.")
    legal_basis: LegalBasis | None = Field(
        None, description="Prefectoral order; required when analytics is enabled (LAW-10)."
    )
    models: list[DetectorModelConfig] = Field(
        min_length=1, max_length=8, description="Detector models run on this camera."
    )
    rules: list[RuleConfig] = Field(
        default_factory=list, max_length=64, description="Rules of this camera."
    )
    track_timeout_s: float = Field(
        2.0, gt=0, le=60, description="A track unseen this long is forgotten."
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _lawful_kinds(cls, v: object) -> object:
        if isinstance(v, list):
            for rule in v:
                if isinstance(rule, dict) and isinstance(rule.get("kind"), str):
                    check_lawful(rule["kind"])
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CameraAnalyticsConfig:
        if self.enabled and self.rules and self.legal_basis is None:
            raise ValueError(msg("analytics.config.legal_basis_missing", camera_id=self.camera_id))
        models = {m.id: m for m in self.models}
        if len(models) != len(self.models):
            dup = next(m.id for m in self.models if [x.id for x in self.models].count(m.id) > 1)
            raise ValueError(msg("analytics.config.duplicate_model", model_id=dup))
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(msg("analytics.config.duplicate_rule", rule_id=rule.id))
            seen.add(rule.id)
            model_id = rule.model or self.models[0].id
            if model_id not in models:
                raise ValueError(
                    msg("analytics.config.unknown_model", rule_id=rule.id, model_id=model_id)
                )
            for cls_name in rule.class_names():
                if cls_name not in models[model_id].classes:
                    raise ValueError(
                        msg(
                            "analytics.config.unknown_class",
                            rule_id=rule.id,
                            cls=cls_name,
                            model_id=model_id,
                        )
                    )
        return self

    def model_of(self, rule: _RuleBase) -> DetectorModelConfig:
        model_id = rule.model or self.models[0].id
        return next(m for m in self.models if m.id == model_id)


def parse_camera_analytics(
    data: dict[str, object], *, from_json: bool = False
) -> CameraAnalyticsConfig:
    """Validate one camera's analytics section. Raises VmsError (INVALID_ARGUMENT) with
    a French message naming the field.

    The models are strict for TOML, which has native dates and times; JSON (the API,
    the ``camera_analytics`` table) brings them as ISO strings, hence ``from_json``:
    lax parsing of the values, with every rule check and LAW-10 refusal unchanged."""
    try:
        return CameraAnalyticsConfig.model_validate(data, strict=not from_json)
    except ValidationError as err:
        field, error = first_error(err)
        raise invalid(
            msg("analytics.config.field_invalid", field=field, error=error),
            detail=f"analytics: {err.error_count()} error(s)",
        ) from err
