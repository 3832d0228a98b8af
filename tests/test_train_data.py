"""Data synthesis: VG scene graphs -> STVQA-format questions (9 categories), the synthetic scenes as VG
graphs, balancing and shuffling, the optional LLM stages (against a loopback server), exports."""

from __future__ import annotations

import io
import json
import random
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spatialeval import rewards as R
from spatialeval.records import LETTERS
from spatialeval.similarity import ExactSimilarity
from spatialeval.stvqa import CATEGORIES, FIELDS, load_stvqa
from spatialeval.synth import synth_row
from spatialeval.train import questions as Q
from spatialeval.train.scenegraph import from_synth_row, load_vg, parse_vg, to_vg_json


def _png(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 200, 200)).save(buf, format="PNG")
    return buf.getvalue()


# A hand-written graph in Visual Genome's scene_graphs.json layout (ids, x/y/w/h, names, synsets).
VG_GRAPH = {
    "image_id": 107,
    "objects": [
        {"object_id": 1, "x": 20, "y": 30, "w": 60, "h": 150, "names": ["man"], "synsets": ["man.n.01"]},
        {"object_id": 2, "x": 150, "y": 120, "w": 120, "h": 80, "names": ["bike"], "synsets": ["bicycle.n.01"]},
        {"object_id": 3, "x": 60, "y": 60, "w": 20, "h": 20, "names": ["cup"], "synsets": ["cup.n.01"]},
        {"object_id": 4, "x": 300, "y": 150, "w": 60, "h": 40, "names": ["dog"], "synsets": ["dog.n.01"]},
        {"object_id": 5, "x": 380, "y": 20, "w": 90, "h": 50, "names": ["car"], "synsets": ["car.n.01"]},
        {"object_id": 6, "x": 400, "y": 180, "w": 80, "h": 45, "names": ["car"], "synsets": ["car.n.01"]},
    ],
    "relationships": [
        {"relationship_id": 10, "subject_id": 1, "predicate": "holding", "object_id": 3},
        {"relationship_id": 11, "subject_id": 1, "predicate": "facing", "object_id": 2},
        {"relationship_id": 12, "subject_id": 4, "predicate": "facing away from", "object_id": 1},
        {"relationship_id": 13, "subject_id": 1, "predicate": "behind", "object_id": 2},
        {"relationship_id": 14, "subject": {"object_id": 3}, "predicate": "ON", "object": {"object_id": 1}},
    ],
}
IMAGE_DATA = [{"image_id": 107, "width": 500, "height": 250}]


@pytest.fixture
def vg(tmp_path):
    (tmp_path / "scene_graphs.json").write_text(json.dumps([VG_GRAPH]))
    (tmp_path / "image_data.json").write_text(json.dumps(IMAGE_DATA))
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "107.jpg").write_bytes(_png(500, 250))
    graphs = list(load_vg(tmp_path / "scene_graphs.json", tmp_path / "image_data.json", tmp_path / "images"))
    assert len(graphs) == 1
    return replace(graphs[0], vocabulary=("man", "bike", "cup", "dog", "car", "bus", "hot dog", "race car"))


def test_vg_parsing_and_the_vg150_scene_form(vg):
    assert (vg.width, vg.height, len(vg.objects), len(vg.relationships)) == (500, 250, 6, 5)
    assert vg.relationships[-1].predicate == "on"  # embedded subject/object dicts, predicate lower-cased
    assert vg.objects[1].kind == "bicycle" and vg.objects[0].kind == "man"
    scene = vg.to_scene_json([2, 1])
    assert scene["objects"] == [{"id": "bike.1", "bbox": [150, 120, 270, 200]},
                                {"id": "man.1", "bbox": [20, 30, 80, 180]}]
    assert {"subject": "man.1", "predicate": "behind", "object": "bike.1"} in scene["relationships"]
    assert [o["id"] for o in vg.to_scene_json()["objects"]][-2:] == ["car.1", "car.2"]
    assert parse_vg(to_vg_json(vg)).objects == vg.objects
    with pytest.raises(ValueError, match="width"):
        parse_vg(VG_GRAPH)


def _draws(sg, cat, n=30):
    return [d for s in range(n) if (d := Q.ASKERS[cat](sg, random.Random(s))) is not None]


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_is_asked_of_a_vg_graph(vg, category):
    drafts = _draws(vg, category)
    assert drafts, category
    for d in drafts:
        assert d.category == category and 2 <= len(d.options) <= 4 and len(set(d.options)) == len(d.options)


def test_vg_answers_follow_the_graph(vg):
    answers = {(d.question, d.options[0]) for cat in CATEGORIES for d in _draws(vg, cat)}
    assert ("What is the man doing with the cup?", "holding") in answers
    assert ("From the man's perspective, is the bike in front of it or behind it?", "in front") in answers
    assert ("From the dog's perspective, is the man in front of it or behind it?", "behind") in answers
    assert ("How many cars are there in the image?", "2") in answers
    centre = {o.name: o.center for o in vg.objects}
    lr = [(q, a) for q, a in answers if q.startswith("Is the ") and "to the left or to the right" in q]
    assert lr
    for q, a in lr:
        first, second = q.removeprefix("Is the ").removesuffix("?").split(" to the left or to the right of the ")
        assert a == ("left" if centre[first][0] < centre[second][0] else "right")
    assert ("In which part of the image is the cup located?", "top left") in answers or not any(
        "the cup located" in q for q, _ in answers)
    assert all(a != "top left" for q, a in answers if "the dog located" in q)
    depth = [a for q, a in answers if q.startswith("Which object is closer to the camera")]
    assert depth and set(depth) == {"bike"}  # from the explicit "behind", never from boxes in a photo
    assert not any("car" in q and "camera" in q for q, _ in answers)  # two cars: never named alone


def test_synthetic_rows_become_vg_graphs_that_agree_with_their_own_answers():
    checked = 0
    for i in range(60):
        row = synth_row(i, seed=5)
        sg = from_synth_row(row)
        assert [o.name for o in sg.objects] == [o["label"] for o in row["objects"]]
        assert sg.to_scene_json()["objects"][0]["id"] == row["objects"][0]["id"]
        ids = {o.name: o.object_id for o in sg.objects}
        rels = {(r.subject_id, r.predicate, r.object_id) for r in sg.relationships}
        truth = row["choices"][LETTERS.index(row["answer"])]
        q = row["question"]
        labels = sorted((label for label in ids if f"the {label}" in q), key=q.index)
        if row["category"] == "left_right":
            a, b = (ids[x] for x in labels)
            assert ((a, "left of", b) if truth == "left" else (b, "left of", a)) in rels
        elif row["category"] == "above_below":
            a, b = (ids[x] for x in labels)
            assert ((a, "above", b) if truth == "above" else (b, "above", a)) in rels
        elif row["category"] == "bigger_smaller":
            a, b = (ids[x] for x in labels)
            assert ((a, "bigger than", b) if truth == "bigger" else (b, "bigger than", a)) in rels
        elif row["category"] == "closer_farther":
            near = ids[truth] if "closer" in q else next(ids[x] for x in labels if x != truth)
            far = next(ids[x] for x in labels if ids[x] != near)
            assert (near, "in front of", far) in rels
        else:
            continue
        checked += 1
    assert checked >= 30


def test_synthesize_balances_and_is_deterministic():
    graphs = [from_synth_row(synth_row(i, seed=7)) for i in range(120)]
    rows = Q.synthesize(graphs, seed=3, balance="stvqa")
    assert rows == Q.synthesize(graphs, seed=3, balance="stvqa")
    cats = [r["category"] for r in rows]
    assert len(rows) == 120 and all(tuple(r) == FIELDS for r in rows)
    assert abs(cats.count("relation") / len(cats) - 0.5) < 0.05
    assert "orientation" not in cats  # the synthetic scenes have no facing predicate to ask about
    assert len(set(cats)) == 8
    uniform = Q.synthesize(graphs, seed=3, balance="uniform", categories=("relation", "depth", "count"))
    assert [r["category"] for r in uniform].count("depth") == 40
    letters = [r["answer_only"] for r in rows]
    assert len(set(letters)) >= 2 and max(letters.count(x) for x in set(letters)) < 0.75 * len(rows)
    with pytest.raises(ValueError):
        Q.synthesize(graphs, categories=("colour",))


def test_rows_carry_the_question_sub_graph_and_a_consistent_answer():
    graphs = [from_synth_row(synth_row(i, seed=9)) for i in range(40)]
    for row in Q.synthesize(graphs, seed=1, balance="uniform"):
        gt = R.ground_truth(row)
        assert row["options"][LETTERS.index(gt.answer)] in row["answer_option_text_only"]
        for oid, _ in gt.scene.objects:
            assert oid.rsplit(".", 1)[0].replace("_", " ") in row["question_only"] or row["category"] == "count"
        perfect = (f"<observe>x</observe><scene>{json.dumps({'objects': [{'id': i, 'bbox': list(b)} for i, b in gt.scene.objects], 'relationships': [{'subject': s, 'predicate': p, 'object': o} for s, p, o in gt.scene.relations]})}"
                   f"</scene><think>y</think><answer>{row['answer_option_text_only']}</answer>")
        b = R.score_completion(perfect, replace(gt, size=(320.0, 240.0)), similarity=ExactSimilarity())
        assert b.total == pytest.approx(1.0)


def test_option_shuffle_depends_only_on_image_and_question():
    d = Q.Draft("count", "How many cups are there in the image?", ("2", "0", "5", "3"), ())
    a, b = Q.shuffle_options(d, "img-1"), Q.shuffle_options(d, "img-1")
    assert a == b and a[0][a[1]] == "2"
    orders = {tuple(Q.shuffle_options(replace(d, question=f"q{k}"), "img-1")[0]) for k in range(20)}
    assert len(orders) > 3


def test_split_is_per_category_and_disjoint():
    graphs = [from_synth_row(synth_row(i, seed=4)) for i in range(100)]
    rows = Q.synthesize(graphs, seed=0)
    train, val = Q.split_rows(rows, 0.1)
    assert len(train) + len(val) == 100 and 6 <= len(val) <= 14
    assert not {r["image_id"] for r in train} & {r["image_id"] for r in val}


def test_plurals():
    assert [Q.plural(w) for w in ("circle", "box", "bus", "man", "fire hydrant", "strawberry", "toy")] == [
        "circles", "boxes", "buses", "men", "fire hydrants", "strawberries", "toys"]


# ---------------------------------------------------------------------------------------------
# The optional LLM stages, against a loopback OpenAI-compatible server


class _FakeLLM(BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "".join(p.get("text", "") for m in body["messages"] for p in (m["content"] if isinstance(
            m["content"], list) else [{"text": m["content"]}]))
        _FakeLLM.calls.append(text)
        if "Scene graph:" in text:
            reply = json.dumps({"question": "How many cars are there in the image?", "options": ["(A) 3", "(B) 1"],
                                "answer": "A", "category": "count", "level": "easy", "rating": 6})
        else:
            reply = "A"  # the validator always answers A
        out = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                       "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 10, "completion_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def llm_runner():
    api = pytest.importorskip("spatialeval.runners.api")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeLLM.calls = []
    runner = api.make_api_runner("openai:fake", base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="k",
                                 max_retries=0, concurrency=2)
    try:
        yield runner
    finally:
        runner.close()
        server.shutdown()
        server.server_close()


def test_llm_generation_parses_fixes_counts_and_filters_the_sub_graph(vg, llm_runner):
    from spatialeval.train.llm import generate_questions

    rows = generate_questions([vg], llm_runner)
    assert len(rows) == 1 and "Scene graph:" in _FakeLLM.calls[0] and '"car.2"' in _FakeLLM.calls[0]
    row = rows[0]
    assert row["category"] == "count"
    # the model said 3; the graph has 2 cars: the correct count replaces the wrong answer
    assert row["answer_option_text_only"].endswith(" 2") and sorted(row["options"]) == ["1", "2"]
    gt = R.ground_truth(row)
    assert sorted(o[0] for o in gt.scene.objects) == ["car.1", "car.2"]


def test_llm_validation_is_pass_at_2_then_2_more(llm_runner):
    graphs = [from_synth_row(synth_row(i, seed=11)) for i in range(12)]
    rows = Q.synthesize(graphs, seed=0)
    from spatialeval.train.llm import validate_rows

    kept, dropped = validate_rows(rows, llm_runner)
    assert {r["answer_only"] for r in kept} <= {"A"} and all(r["answer_only"] != "A" for r in dropped)
    assert len(kept) + len(dropped) == 12
    asked = [c for c in _FakeLLM.calls if "Reply with only the letter" in c]
    assert len(asked) == len(kept) + 4 * len(dropped)  # a keeper is asked once, a reject four times


# ---------------------------------------------------------------------------------------------
# Exports and the synth command


def test_synth_command_writes_a_hub_style_dataset_and_verl_parquet(tmp_path, cli):
    code, output = cli("synth", "-n", "30", "--seed", "3", "--val-fraction", "0.2", "--verl", "-o", tmp_path / "d")
    assert code == 0, output
    train, val = load_stvqa(tmp_path / "d", "train"), load_stvqa(tmp_path / "d", "val")
    assert len(train) + len(val) == 30 and len(val) >= 3  # 20% per category, rounded
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "d" / "verl" / "train.parquet").to_pylist()
    assert len(table) == len(train)
    rec = table[0]
    assert rec["prompt"][0]["content"].startswith("<image>") and rec["problem"] == rec["prompt"][0]["content"]
    assert rec["images"][0]["bytes"][:4] == b"\x89PNG" and rec["reward_model"]["style"] == "rule"
    from spatialeval.train import engine_rewards as E

    gt = json.loads(rec["ground_truth"])
    scene = rec["answer"].split("<scene>")[1].split("</scene>")[0]
    good = f"<observe>o</observe><scene>{scene}</scene><think>t</think><answer>{gt['answer_option_text_only']}</answer>"
    assert E.compute_score(rec["data_source"], good, rec["reward_model"]["ground_truth"])["score"] == pytest.approx(1.0)
    easy = E.easyr1_compute_score([{"response": good, "response_length": 9, "ground_truth": rec["ground_truth"]},
                                   {"response": "noise", "response_length": 1, "ground_truth": rec["ground_truth"]}])
    assert easy[0]["overall"] == pytest.approx(1.0) and easy[1] == {"overall": 0.0, "format": 0.0, "count": 0.0,
                                                                     "accuracy": 0.0, "spatial": 0.0}
    assert E.REWARD_TYPE == "batch"
    vanilla = E.compute_score("x", f"<think>t</think><answer>{gt['answer_option_text_only']}</answer>", gt,
                              reward="vanilla")
    assert vanilla["score"] == pytest.approx(1.0)


def test_synth_command_reads_visual_genome(tmp_path, cli):
    (tmp_path / "sg.json").write_text(json.dumps([VG_GRAPH]))
    (tmp_path / "img.json").write_text(json.dumps(IMAGE_DATA))
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "107.jpg").write_bytes(_png(500, 250))
    code, output = cli("synth", "--source", "vg", "--scene-graphs", tmp_path / "sg.json", "--image-data",
                       tmp_path / "img.json", "--images", tmp_path / "images", "--val-fraction", "0",
                       "-o", tmp_path / "out")
    assert code == 0, output
    assert len(load_stvqa(tmp_path / "out", "train")) == 1
    code, output = cli("synth", "--source", "vg", "-o", tmp_path / "bad")
    assert code == 2 and "--scene-graphs" in output


def test_sft_targets_earn_the_full_reward_and_prompts_match_the_evaluation():
    from spatialeval.prompts import render_text
    from spatialeval.records import ImageRef, Sample
    from spatialeval.train.data import examples, synth_stvqa, to_trl_dataset

    rows = synth_stvqa(12, seed=6, balance="uniform")["train"]
    exs = examples(rows, prompt="spatialthinker", target="trace")
    for ex in exs:
        cols = {k: [ex[k]] for k in ("answer", "choices", "answer_option_text", "width", "height")}
        assert R.spatialthinker_reward(None, [ex["target"]], label_similarity=ExactSimilarity(), **cols) == [
            pytest.approx(1.0)]
    row = rows[0]
    sample = Sample(id="x", index=0, question=row["question_only"], choices=tuple(row["options"]),
                    images=(ImageRef(data=row["images"][0]["bytes"]),))
    assert exs[0]["text"] == render_text(sample, "spatialthinker")
    reasoning = examples(rows, prompt="reasoning", target="reasoning")
    assert all(R.vanilla_reward(None, [e["target"]], answer=[e["answer"]], choices=[e["choices"]]) == [1.0]
               for e in reasoning)
    assert examples(rows, prompt="direct", target="answer")[0]["target"] == rows[0]["answer_only"]
    ds = to_trl_dataset(exs, sft=True)
    assert ds[0]["prompt"] == [{"role": "user", "content": exs[0]["text"]}]
    assert ds[0]["completion"][0]["content"] == exs[0]["target"] and ds[0]["image"].size == (320, 240)


def test_option_text_target_is_the_gold_option_and_the_extractor_maps_it_to_the_letter():
    from spatialeval.extraction import extract_choice
    from spatialeval.train.data import examples, synth_stvqa
    from spatialeval.train.recipes import load_recipe

    rows = synth_stvqa(12, seed=6, balance="uniform")["train"]
    exs = examples(rows, prompt="direct", target="option_text")
    for ex in exs:
        assert ex["target"] in ex["choices"] and not ex["target"].startswith("(")
        assert extract_choice(ex["target"], ex["choices"]).answer == ex["answer"]
    assert {ex["category"] for ex in exs} >= {"relation", "count", "existence"}
    recipe = load_recipe("tiny-sft-direct")
    assert (recipe.target, recipe.prompt, recipe.eval["prompt_style"]) == ("option_text", "direct", "direct")
    assert recipe.data["source"] == "synth" and recipe.data["seed"] != 0  # synth_spatial (seed 0) is held out
