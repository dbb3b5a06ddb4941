"""Privacy masks (LAW-09): configuration, rasterisation, painting."""

from __future__ import annotations

from typing import Any

import av
import pytest

from ingest.masks import (
    MASK_VALUE,
    MaskPainter,
    plane_runs,
    polygon_rows,
    rasterise,
    subsample,
    unmasked_stream,
)
from vms.config import CameraConfig, parse_config
from vms.errors import ErrorKind, VmsError

SQUARE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]


def camera(**fields: Any) -> dict[str, Any]:
    cam: dict[str, Any] = {
        "id": "mairie-01",
        "tenant": "commune-a",
        "name": "Place de la Mairie",
        "streams": [
            {"name": "main", "url": "rtsp://10.0.0.10/stream1"},
            {"name": "sub", "url": "rtsp://10.0.0.10/stream2", "record": False},
        ],
    }
    cam.update(fields)
    return cam


def refused(cam: dict[str, Any]) -> str:
    with pytest.raises(VmsError) as info:
        parse_config({"cameras": [cam]})
    assert info.value.kind is ErrorKind.INVALID_ARGUMENT
    return info.value.message


# -- configuration ---------------------------------------------------------------------


def test_masks_parse_from_toml_shaped_data() -> None:
    config = parse_config(
        {
            "cameras": [
                camera(masks=[{"name": "entrée du 12", "points": SQUARE}], keep_unmasked=True)
            ]
        }
    )
    cam = config.cameras[0]
    assert cam.masks[0].name == "entrée du 12"
    assert cam.masks[0].points == [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    assert cam.keep_unmasked is True


def test_a_camera_has_no_masks_by_default() -> None:
    cam = CameraConfig.model_validate(camera())
    assert cam.masks == []
    assert cam.keep_unmasked is False


def test_points_outside_the_picture_are_refused_in_french() -> None:
    points = [[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]]
    assert refused(camera(masks=[{"name": "m", "points": points}])) == (
        "Configuration invalide, champ « cameras[0].masks[0].points » : chaque point [x, y] "
        "doit être compris entre 0 et 1 (coordonnées normalisées de l'image)"
    )


def test_a_polygon_without_area_is_refused() -> None:
    aligned = [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]
    assert refused(camera(masks=[{"name": "m", "points": aligned}])) == (
        "Configuration invalide, champ « cameras[0].masks[0].points » : polygone dégénéré : "
        "son aire est nulle (points alignés ou confondus)"
    )
    same = [[0.3, 0.3], [0.3, 0.3], [0.3, 0.3]]
    assert "polygone dégénéré" in refused(camera(masks=[{"name": "m", "points": same}]))


def test_a_crossed_polygon_is_refused() -> None:
    # the corners of a rectangle in the wrong order: a bow tie that would leave two
    # triangles of the intended area visible
    bow_tie = [[0.1, 0.1], [0.9, 0.8], [0.9, 0.1], [0.1, 0.9]]
    assert refused(camera(masks=[{"name": "m", "points": bow_tie}])) == (
        "Configuration invalide, champ « cameras[0].masks[0].points » : polygone croisé : "
        "ses côtés se coupent (donnez les points dans l'ordre du contour)"
    )


def test_a_concave_polygon_is_accepted() -> None:
    notch = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.5, 0.4], [0.1, 0.9]]
    parse_config({"cameras": [camera(masks=[{"name": "m", "points": notch}])]})


def test_point_count_and_shape_are_bounded() -> None:
    two = [[0.1, 0.1], [0.9, 0.9]]
    assert refused(camera(masks=[{"name": "m", "points": two}])).endswith(
        "« cameras[0].masks[0].points » : liste trop courte"
    )
    circle = [[0.5, 0.5]] * 33
    assert refused(camera(masks=[{"name": "m", "points": circle}])).endswith("liste trop longue")
    assert refused(camera(masks=[{"name": "m", "points": [*SQUARE[:2], [0.5, "x"]]}])).endswith(
        "« cameras[0].masks[0].points[2][1] » : nombre attendu"
    )
    assert refused(camera(masks=[{"points": SQUARE}])).endswith(
        "« cameras[0].masks[0].name » : champ obligatoire manquant"
    )
    assert refused(camera(masks=[{"name": "m", "points": SQUARE, "color": "noir"}])).endswith(
        "« cameras[0].masks[0].color » : champ inconnu"
    )


def test_mask_names_are_unique_per_camera() -> None:
    masks = [{"name": "m", "points": SQUARE}, {"name": "m", "points": SQUARE}]
    assert refused(camera(masks=masks)) == (
        "Configuration invalide, champ « cameras[0] » : noms de masques en double"
    )


def test_keep_unmasked_needs_masks() -> None:
    assert refused(camera(keep_unmasked=True)) == (
        "Configuration invalide, champ « cameras[0] » : « keep_unmasked » suppose au moins "
        "un masque ([[cameras.masks]])"
    )


def test_the_unmasked_stream_name_is_reserved() -> None:
    streams = [
        {"name": "main", "url": "rtsp://10.0.0.10/1"},
        {"name": "main-brut", "url": "rtsp://10.0.0.10/2"},
    ]
    cam = camera(streams=streams, masks=[{"name": "m", "points": SQUARE}], keep_unmasked=True)
    assert refused(cam) == (
        "Configuration invalide, champ « cameras[0] » : le nom de flux « main-brut » est "
        "réservé à l'image non masquée du flux « main »"
    )
    assert unmasked_stream("main") == "main-brut"


# -- rasterisation ---------------------------------------------------------------------


def test_a_square_covers_the_pixels_whose_centre_it_holds() -> None:
    rows = polygon_rows([(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)], 8, 8)
    assert rows == [[], [], [(2, 6)], [(2, 6)], [(2, 6)], [(2, 6)], [], []]


def test_winding_order_does_not_matter() -> None:
    clockwise = [(0.1, 0.2), (0.8, 0.1), (0.6, 0.9)]
    assert polygon_rows(clockwise, 40, 30) == polygon_rows(clockwise[::-1], 40, 30)


def test_a_triangle_narrows_row_by_row() -> None:
    rows = polygon_rows([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], 10, 10)
    # row r: centre y = r + 0.5, edge at x = 10 - y; pixel c kept when c + 0.5 < 10 - y
    assert rows == [[(0, 10 - r - 1)] if r < 9 else [] for r in range(10)]


def test_a_concave_polygon_gives_two_spans_across_its_notch() -> None:
    notch = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.2), (0.0, 1.0)]
    rows = polygon_rows(notch, 20, 20)
    assert rows[0] == [(0, 20)]
    assert len(rows[15]) == 2
    (a0, a1), (b0, b1) = rows[15]
    assert a0 == 0 and b1 == 20 and a1 < 10 < b0


def test_rasterise_unites_polygons_grows_them_and_clips_to_the_picture() -> None:
    left = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))
    right = ((0.4, 0.0), (1.0, 0.0), (1.0, 0.5), (0.4, 0.5))
    assert rasterise([left, right], 10, 10, margin_px=0)[:6] == [[(0, 10)]] * 5 + [[]]
    grown = rasterise([((0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6))], 10, 10, margin_px=2)
    assert grown[1] == [] and grown[2] == [(2, 8)] and grown[7] == [(2, 8)] and grown[8] == []
    edge = rasterise([((0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2))], 10, 10, margin_px=2)
    assert edge[0] == [(0, 4)] and edge[3] == [(0, 4)] and edge[4] == []


def test_the_whole_picture_can_be_masked() -> None:
    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert rasterise([whole], 7, 5) == [[(0, 7)]] * 5


def test_chroma_spans_cover_every_luma_pixel_they_sample() -> None:
    luma = [[], [(3, 6)], [(3, 6)], [], [], [(1, 2)]]
    assert subsample(luma, 2, 2, 4, 3) == [[(1, 3)], [(1, 3)], [(0, 1)]]


def test_plane_runs_join_rows_that_continue_each_other() -> None:
    rows = [[(2, 4)], [(0, 4)], [(0, 4)], [(1, 2), (3, 4)]]
    assert plane_runs(rows, 4) == [(2, 10), (13, 1), (15, 1)]
    assert plane_runs(rows, 6) == [(2, 2), (6, 4), (12, 4), (19, 1), (21, 1)]


# -- painting --------------------------------------------------------------------------


def frame(width: int, height: int, fmt: str = "yuv420p") -> Any:
    """A picture whose every byte differs from its neighbours and from the mask's."""
    f = av.VideoFrame(width, height, fmt)
    for i, plane in enumerate(f.planes):
        size = plane.line_size * plane.height
        plane.update(bytes((7 * n + 31 * i) % 100 for n in range(size)))
    return f


def test_painter_fills_the_polygon_in_every_plane_and_nothing_else() -> None:
    polygon = ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75))
    f = frame(64, 48)
    before = [bytes(p) for p in f.planes]
    MaskPainter([polygon]).paint(f)
    luma = rasterise([polygon], 64, 48)
    for index, plane in enumerate(f.planes):
        rows = luma if index == 0 else subsample(luma, 2, 2, plane.width, plane.height)
        data = bytes(plane)
        for y in range(plane.height):
            inside = {x for a, b in rows[y] for x in range(a, b)}
            for x in range(plane.width):
                pos = y * plane.line_size + x
                expected = MASK_VALUE if x in inside else before[index][pos]
                assert data[pos] == expected, (index, x, y)
    # the grown square: luma 16-2 .. 48+2 columns, 12-2 .. 36+2 rows
    assert luma[9] == [] and luma[10] == [(14, 50)] and luma[37] == [(14, 50)]


def test_painter_reuses_its_layout_for_pictures_of_one_size() -> None:
    painter = MaskPainter([((0.0, 0.0), (0.5, 0.0), (0.5, 0.5))])
    painter.paint(frame(32, 32))
    painter.paint(frame(32, 32))
    painter.paint(frame(16, 16))
    assert len(painter._layouts) == 2


def test_painter_needs_a_polygon() -> None:
    with pytest.raises(ValueError):
        MaskPainter([])
