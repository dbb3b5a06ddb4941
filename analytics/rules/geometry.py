"""Plane geometry on normalised picture coordinates, in pure Python."""

from __future__ import annotations

import math
from collections.abc import Sequence

from analytics.rules.model import Box, Point
from vms.errors import ErrorKind, VmsError
from vms.messages import msg

Polygon = tuple[Point, ...]
MIN_POLYGON_AREA = 1e-6  # of the picture: about one pixel at 1280x720


class GeometryError(VmsError):
    """An invalid zone, line or direction; ``message`` is French."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(ErrorKind.INVALID_ARGUMENT, message, detail)

    def __reduce__(self) -> tuple[type[GeometryError], tuple[str, str]]:
        return (GeometryError, (self.message, self.detail))


def cross(o: Point, a: Point, b: Point) -> float:
    """z of (a - o) x (b - o): > 0 when b lies on the positive side of o->a."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def side_of_line(a: Point, b: Point, p: Point) -> int:
    """+1, -1 or 0 (on the line). On screen (y down), +1 is the side reached by turning
    the direction a->b a quarter turn clockwise: below a line drawn left to right."""
    c = cross(a, b, p)
    return (c > 0) - (c < 0)


def _on_segment(p: Point, q: Point, r: Point) -> bool:
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd share a point (touching counts)."""
    o1, o2, o3, o4 = cross(a, b, c), cross(a, b, d), cross(c, d, a), cross(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return any(
        o == 0 and _on_segment(p, q, r)
        for o, p, q, r in ((o1, a, b, c), (o2, a, b, d), (o3, c, d, a), (o4, c, d, b))
    )


def point_in_polygon(p: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd rule; points on an edge count as inside."""
    n = len(polygon)
    inside = False
    x, y = p
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        if cross(a, b, p) == 0 and _on_segment(a, b, p):
            return True
        if (a[1] > y) != (b[1] > y):
            x_at = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < x_at:
                inside = not inside
    return inside


def polygon_area(polygon: Sequence[Point]) -> float:
    n = len(polygon)
    s = sum(
        polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
        for i in range(n)
    )
    return abs(s) / 2


def _in_picture(p: Sequence[float]) -> bool:
    return len(p) == 2 and 0 <= p[0] <= 1 and 0 <= p[1] <= 1


def validate_polygon(points: Sequence[Sequence[float]]) -> Polygon:
    """A closed, simple polygon inside the picture, or GeometryError (French)."""
    if len(points) < 3:
        raise GeometryError(msg("analytics.geometry.too_few_points"))
    if not all(_in_picture(p) for p in points):
        raise GeometryError(msg("analytics.geometry.out_of_picture"))
    poly: Polygon = tuple((float(p[0]), float(p[1])) for p in points)
    if polygon_area(poly) < MIN_POLYGON_AREA:
        raise GeometryError(msg("analytics.geometry.degenerate"))
    n = len(poly)
    for i in range(n):
        for j in range(i + 2, n - (i == 0)):  # every pair of non-adjacent sides
            if segments_intersect(poly[i], poly[(i + 1) % n], poly[j], poly[(j + 1) % n]):
                raise GeometryError(msg("analytics.geometry.self_crossing"))
    return poly


def validate_line(a: Sequence[float], b: Sequence[float]) -> tuple[Point, Point]:
    if not (_in_picture(a) and _in_picture(b)):
        raise GeometryError(msg("analytics.geometry.out_of_picture"))
    pa, pb = (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))
    if distance(pa, pb) < 1e-6:
        raise GeometryError(msg("analytics.geometry.line_degenerate"))
    return pa, pb


def validate_vector(v: Sequence[float]) -> Point:
    if len(v) != 2 or math.hypot(v[0], v[1]) < 1e-9:
        raise GeometryError(msg("analytics.geometry.vector_null"))
    return (float(v[0]), float(v[1]))


def distance(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def angle_deg(u: Point, v: Point) -> float:
    """Unsigned angle between two non-null vectors, 0..180 degrees."""
    nu, nv = math.hypot(*u), math.hypot(*v)
    c = (u[0] * v[0] + u[1] * v[1]) / (nu * nv)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def box_centre(box: Box) -> Point:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
