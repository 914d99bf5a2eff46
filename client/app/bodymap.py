"""Where each body zone is drawn on the map (front and back). Only geometry lives here: the
zones, their names and the answers come from the vocabulary, and a zone the map cannot draw
is still answered in the list beside it, which is the map's full equivalent."""

from __future__ import annotations

from typing import Any

from client.negotiation.vocabulary import Vocabulary

VIEWS = ("front", "back")

# (kind, attributes) per zone per view, in a 200 x 400 box; drawn in this order (later on top).
_BOTH_SIDES: dict[str, list[tuple[str, dict[str, int]]]] = {
    "shoulders": [
        ("ellipse", {"cx": 66, "cy": 94, "rx": 17, "ry": 10}),
        ("ellipse", {"cx": 134, "cy": 94, "rx": 17, "ry": 10}),
    ],
    "arms": [
        ("rect", {"x": 40, "y": 102, "width": 20, "height": 88, "rx": 9}),
        ("rect", {"x": 140, "y": 102, "width": 20, "height": 88, "rx": 9}),
    ],
    "hands": [
        ("ellipse", {"cx": 50, "cy": 206, "rx": 12, "ry": 15}),
        ("ellipse", {"cx": 150, "cy": 206, "rx": 12, "ry": 15}),
    ],
    "thighs": [
        ("rect", {"x": 73, "y": 204, "width": 25, "height": 62, "rx": 8}),
        ("rect", {"x": 102, "y": 204, "width": 25, "height": 62, "rx": 8}),
    ],
    "legs": [
        ("rect", {"x": 75, "y": 270, "width": 21, "height": 96, "rx": 8}),
        ("rect", {"x": 104, "y": 270, "width": 21, "height": 96, "rx": 8}),
    ],
    "feet": [
        ("ellipse", {"cx": 84, "cy": 378, "rx": 14, "ry": 8}),
        ("ellipse", {"cx": 116, "cy": 378, "rx": 14, "ry": 8}),
    ],
}
GEOMETRY: dict[str, dict[str, list[tuple[str, dict[str, int]]]]] = {
    "front": {
        "head": [("ellipse", {"cx": 100, "cy": 26, "rx": 26, "ry": 16})],
        "face": [("ellipse", {"cx": 100, "cy": 52, "rx": 21, "ry": 17})],
        "lips": [("ellipse", {"cx": 100, "cy": 61, "rx": 9, "ry": 5})],
        "neck": [("rect", {"x": 89, "y": 71, "width": 22, "height": 14, "rx": 4})],
        **_BOTH_SIDES,
        "chest-breasts": [("rect", {"x": 72, "y": 88, "width": 56, "height": 42, "rx": 10})],
        "stomach": [("rect", {"x": 74, "y": 132, "width": 52, "height": 42, "rx": 8})],
        "genital-area": [("rect", {"x": 84, "y": 176, "width": 32, "height": 26, "rx": 10})],
    },
    "back": {
        "head": [("ellipse", {"cx": 100, "cy": 42, "rx": 25, "ry": 28})],
        "back-of-neck": [("rect", {"x": 89, "y": 71, "width": 22, "height": 14, "rx": 4})],
        **_BOTH_SIDES,
        "back": [("rect", {"x": 72, "y": 88, "width": 56, "height": 86, "rx": 10})],
        "buttocks": [("rect", {"x": 74, "y": 176, "width": 52, "height": 26, "rx": 10})],
    },
}


def zone_shapes(v: Vocabulary) -> dict[str, list[dict[str, Any]]]:
    """Per view: the vocabulary's zones that have a drawing, in drawing order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for view in VIEWS:
        drawn = GEOMETRY[view]
        out[view] = [
            {"id": zone, "name": v.zones[zone].name, "shapes": drawn[zone]}
            for zone in drawn
            if zone in v.zones
        ]
    return out
