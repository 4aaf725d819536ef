"""The prompt planner: rules on a hand-written paraphrase set, the CLI, and both LLM paths offline."""
from __future__ import annotations

import http.server
import json
import pathlib
import subprocess
import sys
import threading

import pytest

from models.text.planner import RulePlanner, layout_of
from models.text.planner_scenes import canonical
from models.text.planners import make_planner
from models.text.planner_llm import ChatPlanner, LocalLMPlanner, caption_in
from world import COLORS, NUMBERS, POSITIONS, RELATIONS, SHAPES, parse_caption

from evaluation import paraphrases as paraphrase_set

INSIDE = paraphrase_set.inside()
OUTSIDE = paraphrase_set.outside()


def test_paraphrase_set_is_large_valid_and_covers_every_attribute():
    assert len(INSIDE) >= 120 and len(OUTSIDE) >= 20
    parsed = [parse_caption(c) for _, c in INSIDE]
    assert all(parsed), [c for (_, c), p in zip(INSIDE, parsed) if p is None]
    colors = {p.get("color") for p in parsed} | {c for p in parsed if p["kind"] == "pair" for c, _ in (p["first"], p["second"])}
    shapes = {p.get("shape") for p in parsed} | {s for p in parsed if p["kind"] == "pair" for _, s in (p["first"], p["second"])}
    assert set(COLORS) <= colors and set(SHAPES) <= shapes
    assert {p["size"] for p in parsed if p["kind"] == "single"} >= {"small", "large", None}
    assert {p["cell"] for p in parsed if p["kind"] == "single" and p["cell"]} == set(POSITIONS)
    assert {p["relation"] for p in parsed if p["kind"] == "pair"} == set(RELATIONS)
    assert {p["count"] for p in parsed if p["kind"] == "count"} == set(NUMBERS)
    assert {p["kind"] for p in parsed} == {"single", "pair", "count", "multi", "mixed", "between", "sizes"}
    assert all(canonical(c) == c for _, c in INSIDE)  # written as the world writes them: "an orange circle"


def test_rules_map_at_least_95_percent_of_paraphrases_to_the_right_caption():
    planner = RulePlanner()
    wrong = [(text, planner.plan(text).caption, want) for text, want in INSIDE if planner.plan(text).caption != want]
    assert len(wrong) <= 0.05 * len(INSIDE), wrong


@pytest.mark.parametrize("text", OUTSIDE)
def test_every_prompt_outside_the_world_gets_a_one_line_reason(text):
    plan = RulePlanner().plan(text)
    assert not plan.understood and plan.caption is None and plan.layout is None
    assert plan.reason and "\n" not in plan.reason


def test_layout_lists_objects_with_their_attributes():
    plan = RulePlanner().plan("draw a crimson ball up in the left corner")
    assert plan.layout == {"kind": "single", "relation": None, "count": None,
                           "objects": [{"color": "red", "shape": "circle", "size": None, "cell": [0, 0]}]}
    pair = RulePlanner().plan("put a green plus under an orange triangle").layout
    assert pair["relation"] == "below" and [o["shape"] for o in pair["objects"]] == ["cross", "triangle"]
    assert RulePlanner().plan("three tiny cyan plus signs").layout["count"] == 3


def test_loose_readings_and_dropped_words_are_noted():
    plan = RulePlanner().plan("two big red circels at the top")
    assert plan.caption == "two red circles"
    assert any("circels" in n for n in plan.notes) and any("large" in n for n in plan.notes)
    assert any("position" in n for n in plan.notes)


def test_held_out_compositions_are_inside_the_world():
    assert RulePlanner().plan("a violet pyramid").caption == "a purple triangle"


def run_plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "models", "plan", *args], capture_output=True, text=True, timeout=120)


def test_cli_prints_caption_and_exits_0_or_3_with_one_line():
    ok = run_plan("a big yellow triangle, centred")
    assert ok.returncode == 0 and ok.stdout.strip() == "a large yellow triangle in the center"
    out = run_plan("an astronaut riding a horse")
    assert out.returncode == 3 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "astronaut" in out.stderr
    as_json = run_plan("two little blue boxes", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["constraints"]["count"] == 2
    assert len(json.loads(as_json.stdout)["layout"]["objects"]) == 2
    bad = run_plan("a red ball", "--planner", "oracle")
    assert bad.returncode == 2 and "unknown planner" in bad.stderr


# ---------------------------------------------------------------- a tiny random local LM
@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> pathlib.Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    words = ["[UNK]", "[EOS]"] + sorted({w for t, c in paraphrase_set.load() for w in (t + " " + c).lower().split()})
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", eos_token="[EOS]")
    tokenizer.save_pretrained(folder)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_positions=1024, n_embd=32, n_layer=2, n_head=2,
                               eos_token_id=1, bos_token_id=1)).save_pretrained(folder)
    return folder


def test_random_local_lm_gibberish_falls_back_to_the_rules(tiny_lm):
    planner = make_planner(f"lm:{tiny_lm}")
    assert isinstance(planner, LocalLMPlanner)
    plan = planner.plan("two little blue boxes")
    assert plan.caption == "two blue squares"
    assert plan.planner.endswith("->rules") and "used the rules" in plan.notes[0]
    outside = planner.plan("a photo of a dog")
    assert not outside.understood and "dog" in outside.reason


def test_a_crashing_local_lm_surfaces_instead_of_falling_back(tiny_lm, monkeypatch):
    planner = make_planner(f"lm:{tiny_lm}")

    def crash(**kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(planner.model, "generate", crash)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        planner.plan("two little blue boxes")  # a broken model is a bug to see, not a silent rules answer


def test_a_chat_planner_bug_surfaces_but_a_dead_endpoint_falls_back(monkeypatch):
    planner = ChatPlanner("http://127.0.0.1:9/v1", timeout=2)
    monkeypatch.setattr("models.text.planner_llm.content_of", lambda raw: {}["choices"])  # a bug in our code
    monkeypatch.setattr("models.text.planner_llm.read_capped", lambda response, deadline: b"{}")
    monkeypatch.setattr("models.text.planner_llm.opener", lambda sockets: type("Opener", (), {
        "open": lambda self, request, timeout: __import__("contextlib").nullcontext(None)})())
    with pytest.raises(KeyError):
        planner.plan("a blue box")
    monkeypatch.undo()
    plan = ChatPlanner("http://127.0.0.1:9/v1", timeout=2).plan("a blue box")  # connection refused: an OSError
    assert plan.caption == "a blue square" and "failed (URLError" in plan.notes[0]


# ---------------------------------------------------------------- a local chat-completions server
class ChatServer:
    """Speaks POST /v1/chat/completions; answers with whatever `reply` holds, records each request."""

    def __init__(self) -> None:
        self.reply = ""
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, **body})
                payload = json.dumps({"object": "chat.completion", "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": server.reply}}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def chat():
    server = ChatServer()
    yield server
    server.httpd.shutdown()


def test_valid_chat_answer_is_used(chat):
    chat.reply = "A large red circle in the center."  # what the rules alone cannot read from the text below
    plan = make_planner(f"chat:{chat.url}#tiny-model").plan("something big and scarlet, dead centre")
    assert plan.caption == "a large red circle in the center" and plan.planner == "chat:tiny-model"
    request = chat.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "tiny-model"
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "something big and scarlet, dead centre"}


def test_invalid_chat_answer_falls_back_to_the_rules(chat):
    chat.reply = "Sure! Here is a lovely red ball for you."
    plan = ChatPlanner(chat.url).plan("a crimson ball at the top")
    assert plan.caption == "a red circle at the top" and plan.planner.endswith("->rules")
    assert "not a world caption" in plan.notes[0]
    chat.reply = "OUTSIDE: I would rather not"  # a refusal of a drawable request: the rules decide
    assert ChatPlanner(chat.url).plan("two red balls").caption == "two red circles"


def test_unreachable_chat_endpoint_falls_back_without_raising():
    plan = ChatPlanner("http://127.0.0.1:9/v1", timeout=2).plan("a blue box")
    assert plan.caption == "a blue square" and "failed" in plan.notes[0]


def test_malformed_paraphrase_file_names_file_and_line(tmp_path):
    broken = tmp_path / "set.tsv"
    broken.write_text("text\tcaption\na red ball\ta red circle\njust one column\n")
    with pytest.raises(ValueError, match=r"set.tsv:3: expected 2"):
        paraphrase_set.load(broken)


def test_caption_in_accepts_only_grammar():
    assert caption_in("caption: Two Red Circles.\nmore text") == "two red circles"
    assert caption_in("a red circle in the top left corner") is None
    assert caption_in("") is None
    assert layout_of("two red circles")["count"] == 2
