"""Scene graphs in Visual Genome's format, and the conversions the training data needs.

Visual Genome (``scene_graphs.json`` + ``image_data.json``) stores, per image, objects with a
pixel box ``x, y, w, h`` (top-left, width, height), ``names`` and ``synsets``, and relationships
``subject_id --predicate--> object_id``. SpatialThinker's ``<scene>`` JSON is the VG150 form of the
same graph: ids ``name.N`` and boxes ``[x1, y1, x2, y2]``. ``SceneGraph`` holds the VG form;
``to_scene_json`` writes the VG150 form, with ids numbered per name in object order.

``from_synth_row`` turns a row of the bundled synthetic benchmark into a VG-format graph whose
relationships are read off the geometry (left of, above, in front of, bigger than, next to, far
from), so the question templates run offline on those scenes exactly as on real VG graphs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# The synthetic scenes' perspective model (spatialeval.synth): objects stand on a floor, so a
# lower base is closer; margins keep derived relations unambiguous.
LR_MARGIN, AB_MARGIN, DEPTH_MARGIN, SIZE_RATIO = 0.10, 0.12, 0.10, 1.4
NEAR_GAP, FAR_GAP = 0.35, 1.5  # box gap as a multiple of the smaller object's side


@dataclass(frozen=True)
class VGObject:
    object_id: int
    names: tuple[str, ...]
    x: float
    y: float
    w: float
    h: float
    synsets: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.names[0] if self.names else "object"

    @property
    def kind(self) -> str:
        """The object class for counting: the synset's head noun, else the name's last word."""
        if self.synsets:
            return self.synsets[0].split(".")[0].replace("_", " ")
        return self.name.split()[-1] if self.name.split() else self.name

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class VGRelationship:
    subject_id: int
    predicate: str
    object_id: int


@dataclass(frozen=True)
class SceneGraph:
    """One image's graph. ``image`` holds encoded bytes or a path; ``depth_from_boxes`` says the
    scene follows a floor-perspective model, so box bases order depth (true for our synthetic
    scenes, false for photographs)."""

    image_id: str
    width: int
    height: int
    objects: tuple[VGObject, ...]
    relationships: tuple[VGRelationship, ...] = ()
    image: bytes | str | None = field(default=None, repr=False)
    depth_from_boxes: bool = False
    vocabulary: tuple[str, ...] = ()  # labels that could appear (negatives for existence/count)

    def by_id(self) -> dict[int, VGObject]:
        return {o.object_id: o for o in self.objects}

    def ids(self) -> dict[int, str]:
        """VG object id -> VG150 id ``name.N`` (names normalised, numbered per name in order)."""
        seen: dict[str, int] = {}
        out = {}
        for o in self.objects:
            base = normalise_name(o.name)
            seen[base] = seen.get(base, 0) + 1
            out[o.object_id] = f"{base}.{seen[base]}"
        return out

    def to_scene_json(self, object_ids: list[int] | None = None,
                      relationships: list[VGRelationship] | None = None) -> dict[str, Any]:
        """SpatialThinker's ``<scene>`` form of the whole graph or of a sub-graph."""
        ids = self.ids()
        by = self.by_id()
        order = list(dict.fromkeys(object_ids)) if object_ids is not None else [o.object_id for o in self.objects]
        keep = set(order)
        rels = self.relationships if relationships is None else relationships
        return {  # objects in the order given (a question's own order reads most naturally)
            "objects": [{"id": ids[i], "bbox": [round(v) for v in by[i].xyxy]} for i in order],
            "relationships": [{"subject": ids[r.subject_id], "predicate": r.predicate, "object": ids[r.object_id]}
                              for r in rels if r.subject_id in keep and r.object_id in keep],
        }


def normalise_name(name: str) -> str:
    """``"Fire hydrant"`` -> ``"fire_hydrant"``: letters and underscores, as the id format demands."""
    base = re.sub(r"[^a-z_]+", "_", name.strip().lower()).strip("_")
    return base or "object"


# ---------------------------------------------------------------------------------------------
# Visual Genome JSON


def _vg_object(o: dict[str, Any]) -> VGObject:
    names = o.get("names") or ([o["name"]] if o.get("name") else [])
    return VGObject(object_id=int(o["object_id"]), names=tuple(str(n) for n in names),
                    x=float(o["x"]), y=float(o["y"]), w=float(o["w"]), h=float(o["h"]),
                    synsets=tuple(o.get("synsets") or ()), attributes=tuple(o.get("attributes") or ()))


def _object_id(ref: Any) -> int:
    """Relationships reference objects by id (scene_graphs.json) or embed them (relationships.json)."""
    return int(ref["object_id"]) if isinstance(ref, dict) else int(ref)


def parse_vg(graph: dict[str, Any], image_data: dict[str, Any] | None = None,
             images_dir: str | Path | None = None) -> SceneGraph:
    """One entry of VG's ``scene_graphs.json`` (plus its ``image_data.json`` entry for the size)."""
    info = {**(image_data or {}), **graph}
    objects = tuple(_vg_object(o) for o in graph.get("objects", []))
    known = {o.object_id for o in objects}
    rels = []
    for r in graph.get("relationships", []):
        s = _object_id(r.get("subject_id", r.get("subject")))
        t = _object_id(r.get("object_id", r.get("object")))
        if s in known and t in known and s != t:
            rels.append(VGRelationship(s, str(r["predicate"]).strip().lower(), t))
    if "width" not in info or "height" not in info:
        raise ValueError(f"image {info.get('image_id')}: no width/height (pass image_data.json)")
    image: str | None = None
    if images_dir is not None:
        p = Path(images_dir) / f"{info['image_id']}.jpg"
        image = str(p) if p.exists() else None
    return SceneGraph(image_id=str(info["image_id"]), width=int(info["width"]), height=int(info["height"]),
                      objects=objects, relationships=tuple(rels), image=image)


def load_vg(scene_graphs: str | Path, image_data: str | Path | None = None,
            images_dir: str | Path | None = None) -> Iterator[SceneGraph]:
    """Read VG scene graphs (a JSON list, or a folder of per-image ``<id>.json`` files)."""
    path = Path(scene_graphs)
    if path.is_dir():
        graphs = [json.loads(p.read_text()) for p in sorted(path.glob("*.json"))]
    else:
        data = json.loads(path.read_text())
        graphs = data if isinstance(data, list) else [data]
    sizes: dict[str, dict[str, Any]] = {}
    if image_data is not None:
        sizes = {str(d.get("image_id", d.get("id"))): d for d in json.loads(Path(image_data).read_text())}
    for g in graphs:
        yield parse_vg(g, sizes.get(str(g.get("image_id"))), images_dir)


def to_vg_json(sg: SceneGraph) -> dict[str, Any]:
    """The inverse of ``parse_vg`` (with width and height inline)."""
    return {
        "image_id": sg.image_id, "width": sg.width, "height": sg.height,
        "objects": [{"object_id": o.object_id, "x": o.x, "y": o.y, "w": o.w, "h": o.h, "names": list(o.names),
                     "synsets": list(o.synsets), "attributes": list(o.attributes)} for o in sg.objects],
        "relationships": [{"relationship_id": k, "subject_id": r.subject_id, "predicate": r.predicate,
                           "object_id": r.object_id} for k, r in enumerate(sg.relationships)],
    }


# ---------------------------------------------------------------------------------------------
# The bundled synthetic scenes


def _gap(a: VGObject, b: VGObject) -> float:
    """Distance between two boxes (0 when they touch or overlap)."""
    dx = max(0.0, max(a.x, b.x) - min(a.x + a.w, b.x + b.w))
    dy = max(0.0, max(a.y, b.y) - min(a.y + a.h, b.y + b.h))
    return (dx * dx + dy * dy) ** 0.5


def geometric_relationships(objects: tuple[VGObject, ...], width: int, height: int) -> tuple[VGRelationship, ...]:
    """Relations that the synthetic scenes' geometry makes unambiguous, each pair once per kind."""
    rels: list[VGRelationship] = []
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            (ax, ay), (bx, by) = a.center, b.center
            if abs(ax - bx) >= LR_MARGIN * width:
                left, right = (a, b) if ax < bx else (b, a)
                rels.append(VGRelationship(left.object_id, "left of", right.object_id))
            if abs(ay - by) >= AB_MARGIN * height:
                top, bottom = (a, b) if ay < by else (b, a)
                rels.append(VGRelationship(top.object_id, "above", bottom.object_id))
            a_base, b_base = a.y + a.h, b.y + b.h
            if abs(a_base - b_base) >= DEPTH_MARGIN * height:
                near, far = (a, b) if a_base > b_base else (b, a)
                rels.append(VGRelationship(near.object_id, "in front of", far.object_id))
            big, small = (a, b) if a.w * a.h >= b.w * b.h else (b, a)
            if big.w >= SIZE_RATIO * small.w and big.w * big.h >= SIZE_RATIO**2 * small.w * small.h:
                rels.append(VGRelationship(big.object_id, "bigger than", small.object_id))
            side = min(a.w, a.h, b.w, b.h)
            gap = _gap(a, b)
            if gap <= NEAR_GAP * side:
                rels.append(VGRelationship(a.object_id, "next to", b.object_id))
            elif gap >= FAR_GAP * max(a.w, b.w):
                rels.append(VGRelationship(a.object_id, "far from", b.object_id))
    return tuple(rels)


def from_synth_row(row: dict[str, Any]) -> SceneGraph:
    """A row of ``spatialeval.synth`` as a VG-format graph: name "red circle", synset "circle.n.01",
    attribute "red", box converted from inclusive pixels to x, y, w, h."""
    from ..synth import COLORS, SHAPES

    objects = []
    for k, o in enumerate(row["objects"]):
        x1, y1, x2, y2 = o["bbox"]
        color, shape = o["label"].split(" ", 1)
        objects.append(VGObject(object_id=k + 1, names=(o["label"],), x=x1, y=y1, w=x2 - x1 + 1, h=y2 - y1 + 1,
                                synsets=(f"{shape}.n.01",), attributes=(color,)))
    objs = tuple(objects)
    vocab = tuple(f"{c} {s}" for c in COLORS for s in SHAPES)
    return SceneGraph(image_id=str(row["id"]), width=int(row["width"]), height=int(row["height"]), objects=objs,
                      relationships=geometric_relationships(objs, int(row["width"]), int(row["height"])),
                      image=row.get("image"), depth_from_boxes=True, vocabulary=vocab)


def with_relationships(sg: SceneGraph, rels: tuple[VGRelationship, ...]) -> SceneGraph:
    return replace(sg, relationships=rels)
