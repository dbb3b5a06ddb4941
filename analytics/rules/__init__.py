"""The rule engine of the analytics tier: pure functions over tracks (LAW-10 events).

Frames of tracked detections go in, attention alerts (``Event``) come out. No IO, no
image processing: the detection tier feeds it.
"""

from analytics.rules.abandoned import AbandonedObject
from analytics.rules.base import Rule
from analytics.rules.class_alarm import ClassAlarm
from analytics.rules.counting import Bucket, Counter, LineCrossing
from analytics.rules.crowd import CrowdMovement, Density
from analytics.rules.engine import RuleEngine, build_rule
from analytics.rules.geometry import GeometryError
from analytics.rules.intrusion import ZoneIntrusion
from analytics.rules.model import Box, Detection, Event, Frame, Point, Track
from analytics.rules.on_ground import PersonOnGround
from analytics.rules.wrong_way import WrongWay

__all__ = [
    "AbandonedObject",
    "Box",
    "Bucket",
    "ClassAlarm",
    "Counter",
    "CrowdMovement",
    "Density",
    "Detection",
    "Event",
    "Frame",
    "GeometryError",
    "LineCrossing",
    "PersonOnGround",
    "Point",
    "Rule",
    "RuleEngine",
    "Track",
    "WrongWay",
    "ZoneIntrusion",
    "build_rule",
]
