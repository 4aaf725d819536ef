"""Hostile input, load and faults: every case gets a clear one-line answer, nothing is lost, and the
app or run keeps working afterwards. Grouped by what is attacked."""
from __future__ import annotations

# ==== files and network: inception weights, chat planner HTTP, checkpoints, devices ====
import http.server as _fn_http
import json as _fn_json
import threading as _fn_threading

import pytest as _fn_pytest


# ---------------------------------------------------------------- Inception weights
class _FnRunsCode:
    """Pickles to exec(...): loading it with weights_only=False writes the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _fn_code_pickle(tmp_path):
    import torch

    path, marker = tmp_path / "evil.pth", tmp_path / "code-ran"
    torch.save({"weights": _FnRunsCode(marker)}, path)
    return path, marker


def test_files_inception_weights_carrying_code_are_refused_without_running_it(tmp_path, monkeypatch):
    from evaluation.metrics import features

    path, marker = _fn_code_pickle(tmp_path)
    for call in (lambda: features.check_available("inception", str(path)),
                 lambda: features.extractor("inception", str(path))):
        with _fn_pytest.raises(features.FeatureError) as error:
            call()
        message = str(error.value)
        assert "is not the Inception-v3 FID weights" in message and "expected 95628359" in message
        assert "\n" not in message and features.INCEPTION_URL in message
    monkeypatch.setenv(features.INCEPTION_ENV, str(path))  # the same file through the environment
    with _fn_pytest.raises(features.FeatureError, match="is not the Inception-v3 FID weights"):
        features.extractor("inception")
    assert not marker.exists()
    monkeypatch.delenv(features.INCEPTION_ENV)
    world = features.extractor("world")  # the other extractor still works afterwards
    assert world(features.torch.zeros(2, 3, 32, 32, dtype=features.torch.uint8)).shape == (2, 96)


def test_files_inception_weights_of_the_right_size_but_another_digest_are_refused(tmp_path):
    from evaluation.metrics import features

    path = tmp_path / features.INCEPTION_FILE  # the right name and size, other bytes
    with open(path, "wb") as handle:
        handle.truncate(features.INCEPTION_BYTES)
    with _fn_pytest.raises(features.FeatureError) as error:
        features.check_available("inception", str(path))
    assert "sha256 " in str(error.value) and f"expected {features.INCEPTION_SHA256[:12]}" in str(error.value)
    with _fn_pytest.raises(features.FeatureError, match="sha256"):
        features.inception_features(path)
    with _fn_pytest.raises(features.FeatureError, match="not found"):  # and a missing file still says so
        features.check_available("inception", str(tmp_path / "absent.pth"))


def test_files_inception_file_matching_the_pin_must_still_be_plain_tensors(tmp_path, monkeypatch):
    from evaluation.metrics import features
    from models.checkpoints import sha256

    path, marker = _fn_code_pickle(tmp_path)  # a pin pointing at it (a wrong pin) still runs no code
    monkeypatch.setattr(features, "INCEPTION_SHA256", sha256(path))
    monkeypatch.setattr(features, "INCEPTION_BYTES", path.stat().st_size)
    features.check_available("inception", str(path))  # the cheap check is the digest alone
    with _fn_pytest.raises(features.FeatureError, match="not a plain state dict"):
        features.inception_features(path)
    assert not marker.exists()


def test_files_inception_weights_matching_the_pin_load_and_give_features(tmp_path, monkeypatch):
    import io

    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity
    from evaluation.metrics import features
    from models.checkpoints import sha256
    from torchmetrics.image.fid import NoTrainInceptionV3

    # random weights of the right architecture stand in for the published file (no download here)
    monkeypatch.setattr(fidelity.torch, "load", lambda *args, **kwargs: {})
    monkeypatch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    skeleton = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                  feature_extractor_weights_path="x")
    monkeypatch.undo()
    buffer = io.BytesIO()
    torch.save(skeleton.state_dict(), buffer)
    path = tmp_path / "inception.pth"
    path.write_bytes(buffer.getvalue())
    monkeypatch.setattr(features, "INCEPTION_SHA256", sha256(path))
    monkeypatch.setattr(features, "INCEPTION_BYTES", path.stat().st_size)
    features.check_available("inception", str(path))
    network = features.extractor("inception", str(path))
    assert network(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).shape == (2, 2048)


# ---------------------------------------------------------------- the chat planner over HTTP
class _FnChatServer:
    """A chat-completions endpoint whose answer `mode` picks: a reply object, raw bytes, a slow drip,
    a huge body or a redirect. Records each request's path and Authorization header."""

    def __init__(self):
        self.mode, self.reply, self.raw, self.location = "reply", "a red circle", b"", ""
        self.requests = []
        owner = self

        class Handler(_fn_http.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((self.path, self.headers.get("Authorization")))
                try:
                    getattr(owner, f"_{owner.mode}")(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: expected
                    pass

            def log_message(self, *args):
                pass

        self.httpd = _fn_http.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        _fn_threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _reply(self, handler):
        choice = {"index": 0, "message": {"role": "assistant", "content": self.reply}}
        self._raw(handler, _fn_json.dumps({"choices": [choice]}).encode())

    def _raw(self, handler, body=None):
        body = self.raw if body is None else body
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _drip(self, handler):  # a valid reply, one byte every 0.2 s: each read is quick, the whole is not
        body = _fn_json.dumps({"choices": [{"message": {"content": "a red circle"}}]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body[:30]:
            handler.wfile.write(bytes([byte]))
            _fn_threading.Event().wait(0.2)

    def _drip_headers(self, handler):
        handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
        for _ in range(30):
            handler.wfile.write(b"X-Slow: 1\r\n")
            _fn_threading.Event().wait(0.2)

    def _huge_unannounced(self, handler):  # no Content-Length: the body runs until the connection closes
        handler.send_response(200)
        handler.end_headers()
        for _ in range(64):
            handler.wfile.write(b" " * 65536)

    def _redirect(self, handler):
        handler.send_response(self.code)
        handler.send_header("Location", self.location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@_fn_pytest.fixture(scope="module")
def fn_chat():
    server = _FnChatServer()
    yield server
    server.close()


def _fn_plan(server, text="a crimson ball at the top", timeout=5.0):
    from models.text.planner_llm import ChatPlanner

    return ChatPlanner(f"{server.url}#tiny", timeout=timeout).plan(text)


def _fn_assert_fell_back(plan, *phrases):
    assert plan.caption == "a red circle at the top" and plan.planner == "chat:tiny->rules", plan
    assert plan.notes[0].startswith("chat:tiny failed (") and plan.notes[0].endswith("; used the rules"), plan.notes
    assert "\n" not in plan.notes[0] and all(p in plan.notes[0] for p in phrases), plan.notes[0]


def _fn_assert_still_answers(server):
    server.mode, server.reply = "reply", "A large red circle in the center."
    plan = _fn_plan(server, "something big and scarlet, dead centre")
    assert plan.caption == "a large red circle in the center" and plan.planner == "chat:tiny"


@_fn_pytest.mark.parametrize("content, phrase", [(None, "content is null, not text"),
                                                 ([{"type": "text", "text": "a red circle"}], "content is a list"),
                                                 (7, "content is a number"), ({"text": "x"}, "content is an object")])
def test_files_chat_content_that_is_not_text_falls_back_to_the_rules(fn_chat, content, phrase):
    fn_chat.mode, fn_chat.reply = "reply", content
    _fn_assert_fell_back(_fn_plan(fn_chat), phrase)
    _fn_assert_still_answers(fn_chat)


@_fn_pytest.mark.parametrize("raw, phrase", [
    (b"<html>busy</html>", "the reply is not JSON: '<html>busy</html>'"),
    (b"\xff\xfe\x00garbage", "the reply is not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "the reply is not JSON"),  # nested past the recursion limit
    (b'{"choices": []}', "no choices[0].message.content"),
    (b'{"choices": "a red circle"}', "no choices[0].message.content"),
    (b'{"choices": [{"message": null}]}', "no choices[0].message.content"),
    (b"[]", "no choices[0].message.content"),
    (b"null", "no choices[0].message.content"),
])
def test_files_chat_malformed_replies_fall_back_to_the_rules(fn_chat, raw, phrase):
    fn_chat.mode, fn_chat.raw = "raw", raw
    _fn_assert_fell_back(_fn_plan(fn_chat), phrase)
    _fn_assert_still_answers(fn_chat)


@_fn_pytest.mark.parametrize("mode", ["drip", "drip_headers"])
def test_files_chat_slow_drip_is_cut_at_the_total_deadline(fn_chat, mode):
    import time

    fn_chat.mode = mode
    started = time.monotonic()
    plan = _fn_plan(fn_chat, timeout=1.0)  # each byte comes well within the per-read timeout
    assert time.monotonic() - started < 2.5
    _fn_assert_fell_back(plan, "no complete reply within 1 s")
    for _ in range(50):  # the worker's socket was shut at the deadline: it ends, it does not linger on the drip
        if not any(t.name == "chat-planner" and t.is_alive() for t in _fn_threading.enumerate()):
            break
        time.sleep(0.02)
    assert not any(t.name == "chat-planner" and t.is_alive() for t in _fn_threading.enumerate())
    _fn_assert_still_answers(fn_chat)


def test_files_chat_reply_over_one_megabyte_is_refused(fn_chat):
    from models.text.planner_llm import MAX_REPLY_BYTES

    reply = {"choices": [{"message": {"content": "a red circle"}}], "padding": " " * (2 * MAX_REPLY_BYTES)}
    fn_chat.mode, fn_chat.raw = "raw", _fn_json.dumps(reply).encode()
    _fn_assert_fell_back(_fn_plan(fn_chat), f"over the {MAX_REPLY_BYTES} byte limit", "the reply is 2097")
    fn_chat.mode = "huge_unannounced"  # no Content-Length: counted as it arrives
    _fn_assert_fell_back(_fn_plan(fn_chat), f"the reply is over the {MAX_REPLY_BYTES} byte limit")
    _fn_assert_still_answers(fn_chat)


@_fn_pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_files_chat_redirect_is_not_followed_and_the_key_stays_home(fn_chat, monkeypatch, code):
    other = _FnChatServer()  # another origin (another port)
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-hostile-test")
        fn_chat.mode, fn_chat.code = "redirect", code
        fn_chat.location = f"{other.url}/chat/completions"
        plan = _fn_plan(fn_chat)
        _fn_assert_fell_back(plan, f"redirected ({code}) to {other.url}", "not followed", "give the final URL")
        assert fn_chat.requests[-1] == ("/v1/chat/completions", "Bearer sk-hostile-test")
        assert other.requests == []  # neither the request nor the key reached the other host
        _fn_assert_still_answers(fn_chat)
    finally:
        other.close()


def test_files_chat_planner_never_sends_an_over_long_prompt(fn_chat):
    from models.contract import MAX_PROMPT_CHARS

    fn_chat.mode, fn_chat.reply = "reply", "a red circle"
    before = len(fn_chat.requests)
    plan = _fn_plan(fn_chat, "a red circle " * 2_000_000)
    assert not plan.understood and len(fn_chat.requests) == before
    assert plan.reason == f"the prompt is 26000000 characters long; the limit is {MAX_PROMPT_CHARS}: shorten it"
    _fn_assert_still_answers(fn_chat)


# ---------------------------------------------------------------- planner input size
def test_files_planner_refuses_a_huge_prompt_before_reading_it():
    import tracemalloc

    from models.contract import MAX_PROMPT_CHARS
    from models.text.planner import MAX_PLAN_CHARS, RulePlanner

    assert MAX_PLAN_CHARS == MAX_PROMPT_CHARS  # one limit for the planner and the generators
    text = "draw a red circle " * 1_200_000  # 21.6 MB
    tracemalloc.start()
    try:
        plan = RulePlanner().plan(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak  # nothing copied or parsed
    assert not plan.understood and plan.layout is None and "\n" not in plan.reason
    assert plan.reason == f"the prompt is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}: shorten it"
    assert len(plan.text) == MAX_PROMPT_CHARS + 3  # the plan (and its JSON) keeps only the head
    assert RulePlanner().plan("draw a red circle").caption == "a red circle"


def test_files_planner_reads_up_to_the_contract_limit_and_not_one_more():
    from models.contract import MAX_PROMPT_CHARS
    from models.text.planner import NoPlanner, RulePlanner

    text = ("please " * 100)[:MAX_PROMPT_CHARS - len(" draw a red circle")] + " draw a red circle"
    assert len(text) == MAX_PROMPT_CHARS and RulePlanner().plan(text).caption == "a red circle"
    longer = RulePlanner().plan(text + " ")
    assert not longer.understood and longer.reason.endswith(f"the limit is {MAX_PROMPT_CHARS}: shorten it")
    none = NoPlanner().plan("a red circle " * 1_000_000)
    assert not none.understood and none.planner == "none" and "the limit is" in none.reason
    assert NoPlanner().plan("a red circle").caption == "a red circle"


def test_files_planner_answers_non_text_with_one_line():
    from models.text.planner import RulePlanner

    planner = RulePlanner()
    assert planner.plan(["a red circle"]).reason == "the prompt must be text, not list"
    assert planner.plan(None).reason.startswith("the prompt is empty")
    assert planner.plan(b"a red circle").reason == "the prompt must be text, not bytes"
    assert planner.plan("a red circle").understood


# ---------------------------------------------------------------- devices
@_fn_pytest.mark.parametrize("spec, phrase", [("cudaX", "unknown device 'cudaX'"), ("cuda:٣", "unknown device"),
                                              ("cuda:-1", "unknown device"), ("gpu", "unknown device 'gpu'"),
                                              ("cuda:99", "'cuda:99'"), ("cuda:99999", "unknown device")])
def test_files_device_that_does_not_exist_is_a_one_line_value_error(spec, phrase):
    import torch
    from models.devices import DEVICE_HELP, DeviceError, resolve_device

    with _fn_pytest.raises(ValueError) as error:
        resolve_device(spec)
    message = str(error.value)
    assert isinstance(error.value, DeviceError) and phrase in message and "\n" not in message
    assert DEVICE_HELP in message or "GPU" in message
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(" CPU ") == "cpu"


@_fn_pytest.mark.parametrize("spec", ["cuda:99", "cudaX"])
def test_files_device_errors_are_one_line_and_nonzero_in_both_command_lines(spec, tmp_path, capsys):
    from evaluation.__main__ import main as evaluation_main
    from models.__main__ import main as models_main

    calls = [lambda: models_main(["sample", "--model", "ddpm", "--prompt", "a red circle", "--device", spec,
                                  "--out", str(tmp_path / "out")]),
             lambda: evaluation_main(["perf", "--device", spec]),
             lambda: evaluation_main(["accuracy", "--device", spec])]
    for call in calls:
        with _fn_pytest.raises(SystemExit) as stop:
            call()
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert spec in err and "Traceback" not in err


# ---------------------------------------------------------------- checkpoints
def _fn_checkpoint(folder):
    """A tiny text encoder saved the way training saves it, with its manifest."""
    import torch
    from models.checkpoints import write_manifest
    from models.text.encoder import TextEncoder, TextEncoderConfig

    torch.manual_seed(0)
    config = TextEncoderConfig(embed_dim=16, context_length=24, text_width=16, text_heads=2, text_layers=1,
                               vision_width=16, vision_layers=1, vision_head_width=8)
    TextEncoder(config).save_pretrained(folder)
    write_manifest(folder, name="tiny", family="text-encoder", components={}, command="test", steps=0,
                   wall_time_s=0.0, data="none", metrics={})
    return folder


def _fn_edit_manifest(folder, change):
    path = folder / "generator.json"
    manifest = _fn_json.loads(path.read_text())
    change(manifest)
    path.write_text(_fn_json.dumps(manifest))


def test_files_checkpoint_manifest_hashes_weights_and_configs(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest
    from models.text.encoder import TextEncoder

    folder = _fn_checkpoint(tmp_path / "tiny")
    assert sorted(read_manifest(folder)["sha256"]) == ["config.json", "model.safetensors"]
    good = (folder / "config.json").read_text()
    (folder / "config.json").write_text(good.replace("16", "17", 1))  # a swapped config
    with _fn_pytest.raises(CheckpointError, match="config.json does not match the sha256"):
        TextEncoder.from_pretrained(folder)
    (folder / "config.json").write_text(good)
    assert TextEncoder.from_pretrained(folder).clip is not None


def test_files_checkpoint_empty_hash_map_with_truncated_weights_is_refused(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest
    from models.text.encoder import TextEncoder

    folder = _fn_checkpoint(tmp_path / "tiny")
    saved = (folder / "generator.json").read_text()
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[:len(whole) // 2])
    for empty in ({}, None, [], "x"):
        _fn_edit_manifest(folder, lambda m: m.update(sha256=empty))
        with _fn_pytest.raises(CheckpointError) as error:
            TextEncoder.from_pretrained(folder)
        assert "lists no sha256 of its files" in str(error.value) and "\n" not in str(error.value)
    (folder / "generator.json").write_text(saved)
    with _fn_pytest.raises(CheckpointError, match="model.safetensors does not match the sha256"):
        read_manifest(folder)
    weights.write_bytes(whole)  # restored: loads again
    assert TextEncoder.from_pretrained(folder).clip is not None


def test_files_checkpoint_incomplete_hash_map_is_refused(tmp_path):
    import shutil

    from models.checkpoints import CheckpointError, read_manifest

    folder = _fn_checkpoint(tmp_path / "tiny")
    saved = (folder / "generator.json").read_text()
    _fn_edit_manifest(folder, lambda m: m["sha256"].pop("model.safetensors"))
    with _fn_pytest.raises(CheckpointError, match=r"model.safetensors is not listed in the sha256 of"):
        read_manifest(folder)
    (folder / "generator.json").write_text(saved)
    shutil.copy(folder / "model.safetensors", folder / "extra.safetensors")  # a weight file the manifest never saw
    with _fn_pytest.raises(CheckpointError, match="extra.safetensors is not listed"):
        read_manifest(folder)
    (folder / "extra.safetensors").unlink()
    assert read_manifest(folder)["name"] == "tiny"


@_fn_pytest.mark.parametrize("key", ["/etc/hostname", "/etc/no-such-file-here", "../x", "a/../../x", "",
                                     "link/hostname"])
def test_files_checkpoint_hash_key_outside_the_folder_is_refused_unread(tmp_path, monkeypatch, key):
    from models import checkpoints

    folder = _fn_checkpoint(tmp_path / "tiny")
    (folder / "link").symlink_to("/etc")  # inside by name, outside once resolved
    saved = (folder / "generator.json").read_text()
    hashed = []
    real_sha256 = checkpoints.sha256
    monkeypatch.setattr(checkpoints, "sha256", lambda path: hashed.append(path) or real_sha256(path))
    _fn_edit_manifest(folder, lambda m: m["sha256"].update({key: "0" * 64}))
    with _fn_pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.read_manifest(folder)
    message = str(error.value)
    assert f"lists {key!r}, outside the checkpoint folder" in message and "\n" not in message
    assert "missing" not in message and "exist" not in message and hashed == []  # nothing outside looked at
    (folder / "generator.json").write_text(saved)
    assert checkpoints.read_manifest(folder)["name"] == "tiny"


@_fn_pytest.mark.parametrize("content, phrase", [
    ("[]", "holds a list, not a JSON object"), ('"x"', "holds a string, not a JSON object"),
    ("null", "holds null, not a JSON object"), ("7", "holds a number"), ("{", "is not valid JSON"),
    ("[" * 100_000, "is not valid JSON"), (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_files_checkpoint_malformed_manifest_is_a_one_line_checkpoint_error(tmp_path, monkeypatch, content, phrase):
    from models import registry
    from models.checkpoints import CheckpointError, read_manifest

    folder = _fn_checkpoint(tmp_path / "ddpm")
    saved = (folder / "generator.json").read_bytes()
    (folder / "generator.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.setattr(registry, "CHECKPOINT_ROOT", tmp_path)
    for call in (lambda: read_manifest(folder), lambda: read_manifest(folder, verify=False),
                 lambda: registry.checkpoint_fingerprint("ddpm")):
        with _fn_pytest.raises(CheckpointError) as error:
            call()
        assert phrase in str(error.value) and "\n" not in str(error.value)
    (folder / "generator.json").write_bytes(saved)
    assert len(registry.checkpoint_fingerprint("ddpm")) == 16


def test_files_checkpoint_digest_that_is_not_hex_or_a_malformed_pin_is_refused(tmp_path):
    from models.checkpoints import CheckpointError, read_manifest, resolve_pin

    folder = _fn_checkpoint(tmp_path / "tiny")
    _fn_edit_manifest(folder, lambda m: m["sha256"].update({"model.safetensors": ["not", "a", "digest"]}))
    with _fn_pytest.raises(CheckpointError, match="records no valid sha256 for 'model.safetensors'"):
        read_manifest(folder)
    for pinned in ([], {"path": 3, "sha256": "x"}, {"sha256": "0" * 64}):
        with _fn_pytest.raises(CheckpointError, match="malformed pin"):
            resolve_pin(folder, pinned, "model.safetensors")


def test_files_shipped_checkpoints_still_verify_and_load():
    from models.checkpoints import CHECKPOINT_ROOT, read_manifest, weight_files
    from models.text.encoder import TextEncoder

    for folder in sorted(p for p in CHECKPOINT_ROOT.iterdir() if (p / "generator.json").is_file()):
        manifest = read_manifest(folder)
        assert {f.relative_to(folder).as_posix() for f in weight_files(folder)} <= set(manifest["sha256"])
    encoder = TextEncoder.from_pretrained(CHECKPOINT_ROOT / "text-encoder")
    states, pooled = encoder(["a red circle"])
    assert states.shape[0] == 1 and pooled.shape[0] == 1
# ==== end files and network ====

# ==== run store and prompt sets ====
# A run on the conftest's tiny diffusion model (any model name loads it) and a tiny evaluator CLIP; each case
# breaks the store or a prompt set the way it was seen to break, then checks the answer and a working rerun.
import json as _store_json
import pathlib as _store_pathlib
import subprocess as _store_subprocess
import sys as _store_sys

import pytest as _store_pytest

_STORE_REPO = _store_pathlib.Path(__file__).resolve().parents[1]


@_store_pytest.fixture
def store_tiny(tmp_path_factory, tiny_text_encoder, tiny_generator, monkeypatch):
    """models.registry.load gives the tiny generator for any name (counted); the evaluator CLIP is tiny too."""
    import models.registry
    from evaluation.metrics import features

    folder = tmp_path_factory.mktemp("clip")
    tiny_text_encoder.save_pretrained(folder)
    monkeypatch.setenv(features.EVALUATOR_CLIP_ENV, str(folder))
    loads = []
    monkeypatch.setattr(models.registry, "load", lambda name, device="cpu": loads.append(name) or tiny_generator)
    return loads


def _store_options(out, **extra):
    from evaluation.runs.sweep import RunOptions

    settings = {"models": ["tiny"], "prompts": "shapes-single-2", "out": str(out), "guidance": [3.0], "steps": [2],
                "samplers": ["ddim"], "n": 1, "device": "cpu", "floor": False, **extra}  # the store alone, no floor row
    return RunOptions(**settings)


def _store_run(out, **extra) -> dict:
    from evaluation.runs.sweep import run

    return run(_store_options(out, **extra))


def _store_cli(out, *more) -> list[str]:
    return ["run", "--models", "tiny", "--prompts", "shapes-single-2", "--guidance", "3", "--steps", "2", "--n", "1",
            "--device", "cpu", "--out", str(out), "--no-floor", *more]


def _store_complete(out, count: int) -> dict:
    """Every image and row exactly once: one table line per key, one PNG per key, no temporary file."""
    from evaluation.store import RunStore

    rows = RunStore(out).rows()
    keys = [_store_json.loads(line)["key"] for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == count and sorted(keys) == sorted(rows)
    assert sorted(r["file"] for r in rows.values()) == sorted(p.relative_to(out).as_posix()
                                                              for p in (out / "images").rglob("*.png"))
    assert not list(out.rglob("*.tmp")) and not list(out.glob("rows.*.jsonl"))
    return rows


def _store_table(out) -> list[bytes]:
    return (out / "rows.jsonl").read_bytes().splitlines(keepends=True)


def _store_warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def _store_holder(folder):
    """Another process holding the run folder the way `evaluation run` does (RunStore.lock)."""
    code = ("import sys, time; from evaluation.store import RunStore; store = RunStore(sys.argv[1]); store.lock(); "
            "print('locked', flush=True); time.sleep(120)")
    holder = _store_subprocess.Popen([_store_sys.executable, "-c", code, str(folder)], cwd=_STORE_REPO,
                                     stdout=_store_subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


# ---------------------------------------------------------------- 10: one writer per run folder
def test_store_a_second_run_into_a_held_folder_is_refused_with_the_holders_pid(tmp_path, store_tiny):
    from evaluation.__main__ import main
    from evaluation.store import StoreError

    out = tmp_path / "run"
    holder = _store_holder(out)
    try:
        busy = out / "images" / ".p0000-s00-seed0.png.999.tmp"  # the first run's image, half written
        busy.write_bytes(b"partial")
        with _store_pytest.raises(StoreError) as refused:
            _store_run(out)
        assert str(refused.value) == (f"{out} is in use by PID {holder.pid} (another evaluation run); wait for it "
                                      f"or choose another --out")
        with _store_pytest.raises(SystemExit, match=rf"^error: .* in use by PID {holder.pid} "):
            main(_store_cli(out))
        assert busy.exists() and not (out / "rows.jsonl").exists() and store_tiny == []  # nothing touched
    finally:
        holder.kill()  # SIGKILL: the kernel drops its flock with it
        holder.wait()
    assert _store_run(out)["generated"] == 2 and not busy.exists()
    assert _store_run(out)["generated"] == 0  # the same process, again: its own finished run does not block it
    _store_complete(out, 2)


def test_store_the_other_ranks_of_a_run_share_the_folder_its_rank_zero_holds(tmp_path, store_tiny):
    import threading

    from evaluation.store import StoreError
    from evaluation.runs.sweep import _open_store

    out = tmp_path / "run"
    holder = _store_holder(out)  # plays rank 0 of a multi-process run
    try:
        store, _ = _open_store(_store_options(out), 1)  # rank 1 of the same run: no lock of its own
        assert store.rows_path.name == "rows.1.jsonl"
        with _store_pytest.raises(StoreError, match=f"in use by PID {holder.pid}"):
            _open_store(_store_options(out), 0)
    finally:
        holder.kill()
        holder.wait()
    store, _ = _open_store(_store_options(out), 0)
    errors = []
    thread = threading.Thread(target=lambda: _store_catch(errors, lambda: _open_store(_store_options(out), 0)))
    thread.start()
    thread.join()  # another thread of this process is another run, and is refused too
    assert len(errors) == 1 and "in use by PID" in str(errors[0]) and "\n" not in str(errors[0])
    del store
    assert _store_run(out)["generated"] == 2


def _store_catch(errors: list, call) -> None:
    try:
        call()
    except ValueError as error:
        errors.append(error)


# ---------------------------------------------------------------- 11: rows.jsonl that lies or is damaged
def test_store_a_non_utf8_row_mid_file_is_skipped_and_reported(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    _store_run(out, prompts="shapes-single-3")
    lines = _store_table(out)
    lines[1] = b'{"key": "\xff\xfe broken\n'  # its image is still there: recovered from the PNG
    (out / _store_json.loads(lines[2])["file"]).unlink()  # and one image lost: made again
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    again = _store_run(out, prompts="shapes-single-3")
    assert _store_warnings(capsys) == [f"warning: {out / 'rows.jsonl'}: skipped 1 unreadable row(s) (line 2); their "
                                       f"images are read back from the PNGs or made again"]
    assert again["generated"] == 1 and again["images"] == 3
    _store_complete(out, 3)
    assert _store_run(out, prompts="shapes-single-3")["generated"] == 0 and _store_warnings(capsys) == []


def test_store_a_row_whose_file_is_not_a_string_is_skipped(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    _store_run(out)
    lines = _store_table(out)
    for number, file in ((0, 5), (1, None)):
        row = _store_json.loads(lines[number])
        (out / row["file"]).unlink()
        lines[number] = (_store_json.dumps({**row, "file": file}) + "\n").encode()
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    assert _store_run(out)["generated"] == 2  # no TypeError: both images are made again
    assert _store_warnings(capsys)[0].endswith("skipped 2 unreadable row(s) (line 1, 2); their images are read back "
                                               "from the PNGs or made again")
    _store_complete(out, 2)


@_store_pytest.mark.parametrize("hostile", ["absolute", "../secret.png", "images/../../secret.png",
                                            "images/../run.json", "symlink", "images/../images/..\\x.png"])
def test_store_a_row_naming_a_file_outside_images_is_rejected(tmp_path, store_tiny, capsys, hostile):
    out = tmp_path / "run"
    _store_run(out)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    if hostile == "symlink":
        (out / "images" / "tiny").mkdir(exist_ok=True)
        (out / "images" / "tiny" / "link.png").symlink_to(secret)
    file = {"absolute": str(secret), "symlink": "images/tiny/link.png"}.get(hostile, hostile)
    lines = _store_table(out)
    row = _store_json.loads(lines[0])
    (out / row["file"]).unlink()
    lines[0] = (_store_json.dumps({**row, "file": file}) + "\n").encode()
    (out / "rows.jsonl").write_bytes(b"".join(lines))
    capsys.readouterr()
    assert _store_run(out)["generated"] == 1  # the lost image is made again, the row naming the outside ignored
    assert _store_warnings(capsys)[0].startswith(f"warning: {out / 'rows.jsonl'}: skipped 1 unreadable row(s) (line 1)")
    if hostile == "symlink":
        (out / "images" / "tiny" / "link.png").unlink()
    assert _store_complete(out, 2)[row["key"]]["file"] == row["file"] and secret.read_bytes() == b"not yours"


def test_store_a_png_whose_row_names_another_file_is_read_where_it_lies(tmp_path, store_tiny):
    from PIL import Image, PngImagePlugin

    from evaluation.store import ROW_CHUNK

    out = tmp_path / "run"
    _store_run(out)
    lines = _store_table(out)
    row = _store_json.loads(lines[0])
    meta = PngImagePlugin.PngInfo()
    meta.add_text(ROW_CHUNK, _store_json.dumps({**row, "file": "/etc/passwd"}))
    with Image.open(out / row["file"]) as image:
        image.load()
    image.save(out / row["file"], pnginfo=meta)
    (out / "rows.jsonl").write_bytes(b"".join(lines[1:]))  # its row lost: only the PNG knows it
    assert _store_run(out)["generated"] == 0
    assert _store_complete(out, 2)[row["key"]]["file"] == row["file"]


def test_store_the_torn_last_line_a_kill_leaves_is_dropped_quietly(tmp_path, store_tiny, capsys):
    out = tmp_path / "run"
    _store_run(out)
    lines = _store_table(out)
    (out / "rows.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:20])
    capsys.readouterr()
    assert _store_run(out)["generated"] == 0 and _store_warnings(capsys) == []
    _store_complete(out, 2)


# ---------------------------------------------------------------- 12, 13: names that must not collide
def test_store_close_guidance_scales_get_their_own_setting(tmp_path, store_tiny):
    import dataclasses

    from evaluation.runs.sweep import Setting

    names = {g: Setting("ddim", 50, g).name for g in (1.0, 3, 7.5, 0.5, 12.25, 1e-07, 1.0000001, 1.0000002, 0.1)}
    assert names[1.0] == "ddim-50steps-g1" and names[3] == "ddim-50steps-g3" and names[7.5] == "ddim-50steps-g7.5"
    assert names[1e-07] == "ddim-50steps-g1e-07" and names[0.1] == "ddim-50steps-g0.1"  # older runs keep theirs
    assert names[1.0000001] == "ddim-50steps-g1.0000001" and names[1.0000002] == "ddim-50steps-g1.0000002"
    assert len(set(names.values())) == len(names)
    out = tmp_path / "run"
    options = dataclasses.replace(_store_options(out), guidance=[1.0000001, 1.0000002])
    from evaluation.runs.sweep import run

    assert run(options)["generated"] == 4  # both scales, each its own images
    assert {p.name for p in (out / "images" / "tiny").iterdir()} == {"ddim-2steps-g1.0000001", "ddim-2steps-g1.0000002"}
    records = _store_json.loads((out / "metrics.json").read_text())["records"]
    assert sorted(r["guidance"] for r in records) == [1.0000001, 1.0000002]
    assert run(options)["generated"] == 0
    _store_complete(out, 4)


def test_store_repeated_scales_and_steps_on_the_command_line_are_one_setting(tmp_path, store_tiny):
    from evaluation.__main__ import build_parser, main

    args = build_parser().parse_args(_store_cli(tmp_path / "run", "--guidance", "3,3.0,-0,1.0000001", "--steps",
                                                "2,2"))
    assert args.guidance == [3.0, 0.0, 1.0000001] and args.steps == [2] and str(args.guidance[1]) == "0.0"
    main(_store_cli(tmp_path / "run", "--guidance", "3,3"))
    _store_complete(tmp_path / "run", 2)  # made once each, not twice


def test_store_model_names_that_slug_alike_get_their_own_folders(tmp_path, store_tiny):
    from evaluation.store import slug

    for kept in ("ddpm", "dit-layout", "gan", "one-pass", "ddim-50steps-g7.5", "ddim-2steps-g1e-07", "sd1.5+lora"):
        assert slug(kept) == kept  # every older run keeps its folder names
    hostile = ["hub:a/b", "hub:a_b", "hub:a:b", "hub_a_b", "a b", ".", "..", "", "x" * 300, "é"]
    slugs = [slug(name) for name in hostile]
    assert len(set(slugs)) == len(hostile) and all(s not in ("", ".", "..") and "/" not in s for s in slugs)
    assert slugs[0].startswith("hub_a_b_") and max(map(len, slugs)) <= 120
    out = tmp_path / "run"
    assert _store_run(out, models=["hub:a/b", "hub:a_b"])["generated"] == 4
    rows = _store_complete(out, 4)
    folders = {r["model"]: r["file"].split("/")[1] for r in rows.values()}
    assert folders == {"hub:a/b": slug("hub:a/b"), "hub:a_b": slug("hub:a_b")} and len(set(folders.values())) == 2
    assert _store_run(out, models=["hub:a/b", "hub:a_b"])["generated"] == 0


# ---------------------------------------------------------------- 14, 15: prompt sets
def test_store_a_csv_prompt_set_with_a_byte_order_mark_loads(tmp_path, store_tiny):
    from evaluation.prompts import load_prompts

    table = tmp_path / "mine.csv"
    table.write_text("\ufeffPrompt,Category\na red circle,World\na photo of a cat,Animals\n", encoding="utf-8")
    text = tmp_path / "mine.txt"
    text.write_text("\ufeffa red circle\n", encoding="utf-8")
    assert [(p.prompt, p.category, p.judged) for p in load_prompts(str(table))] == [
        ("a red circle", "World", True), ("a photo of a cat", "Animals", False)]
    assert [(p.prompt, p.judged) for p in load_prompts(str(text))] == [("a red circle", True)]
    assert _store_run(tmp_path / "run", prompts=str(table))["generated"] == 2
    _store_complete(tmp_path / "run", 2)


@_store_pytest.mark.parametrize("size, answer", [(200_000, r":3: unreadable row \(field larger than field limit"),
                                                 (100_000, ":3: the prompt is 100000 characters long; shorten it to "
                                                           "at most 500")], ids=["200kB", "100kB"])
def test_store_a_csv_prompt_set_with_a_huge_field_is_one_line(tmp_path, store_tiny, size, answer):
    from evaluation.__main__ import main
    from evaluation.prompts import PromptSetError, load_prompts

    table = tmp_path / "big.csv"
    table.write_text(f"prompt,category\na red circle,x\n\"{'a' * size}\",x\na blue square,x\n")
    with _store_pytest.raises(PromptSetError) as refused:
        load_prompts(str(table))
    assert str(refused.value).startswith(f"{table}:3: ") and "\n" not in str(refused.value)
    with _store_pytest.raises(SystemExit, match=f"^error: .*big.csv{answer}"):
        main(_store_cli(tmp_path / "run", "--prompts", str(table)))
    assert store_tiny == []  # refused before any model loaded
    table.write_text("prompt,category\na red circle,x\na blue square,x\n")  # fixed: it runs
    assert _store_run(tmp_path / "run", prompts=str(table))["generated"] == 2


@_store_pytest.mark.parametrize("name", ["long.txt", "long.csv", "long.tsv", "long.jsonl"])
def test_store_a_prompt_over_the_limit_is_refused_before_any_model_loads(tmp_path, store_tiny, name):
    from evaluation.__main__ import main
    from evaluation.prompts import PromptSetError, load_prompts
    from models.contract import MAX_PROMPT_CHARS

    def write(long: str) -> None:
        prompts = ["a red circle", "a blue square", long]
        body = {"txt": "\n".join(prompts), "csv": "prompt\n" + "\n".join(prompts),
                "tsv": "prompt\n" + "\n".join(prompts),
                "jsonl": "\n".join(_store_json.dumps({"prompt": p}) for p in prompts[1:])}[name.split(".")[1]]
        path.write_text(body + "\n")

    path = tmp_path / name
    write("a red circle " * 91 + "and a blue cross")  # 1,199 characters
    line = {"txt": 3, "csv": 4, "tsv": 4, "jsonl": 2}[name.split(".")[1]]  # a table's header is line 1
    expected = f"{path}:{line}: the prompt is 1199 characters long; shorten it to at most {MAX_PROMPT_CHARS}"
    with _store_pytest.raises(PromptSetError) as refused:
        load_prompts(str(path))
    assert str(refused.value) == expected
    with _store_pytest.raises(SystemExit, match="^error: .*the prompt is 1199 characters long"):
        main(_store_cli(tmp_path / "run", "--prompts", str(path)))
    assert store_tiny == [] and not (tmp_path / "run").exists()  # refused before any model loaded or folder made
    write("x" * MAX_PROMPT_CHARS)  # at the limit: fine
    assert len(load_prompts(str(path))[-1].prompt) == MAX_PROMPT_CHARS
    assert _store_run(tmp_path / "run", prompts=str(path))["generated"] == len(load_prompts(str(path)))


@_store_pytest.mark.parametrize("name, blank, line", [("blank.csv", '"  \t",x', 3), ("blank.tsv", '"\n\n"\tx', 3),
                                                      ("blank.jsonl", '{"prompt": " "}', 2)])
def test_store_an_empty_prompt_is_refused_at_load_with_file_and_line(tmp_path, store_tiny, name, blank, line):
    from evaluation.prompts import PromptSetError, load_prompts

    path = tmp_path / name
    good = {"csv": "a blue square,x", "tsv": "a blue square\tx", "jsonl": '{"prompt": "a blue square"}'}[name[6:]]
    head = {"csv": "prompt,category\na red circle,x\n", "tsv": "prompt\tcategory\na red circle\tx\n",
            "jsonl": '{"prompt": "a red circle"}\n'}[name[6:]]
    path.write_text(f"{head}{blank}\n")
    answer = f"^{path}:{line}: (empty prompt|expected an object with a non-empty)"
    with _store_pytest.raises(PromptSetError, match=answer):
        load_prompts(str(path))
    path.write_text(f"{head}{good}\n")  # fixed: it runs
    assert _store_run(tmp_path / "run", prompts=str(path))["generated"] == 2


# ---------------------------------------------------------------- 18: run.json that is not a run's record
@_store_pytest.mark.parametrize("content", [b"[]", b"not json", b'{"checkpoints": []}', b"\xff\xfe{}", b"null",
                                            _store_pytest.param(b"[" * 100_000, id="nested-past-the-recursion-limit")])
def test_store_a_run_json_that_is_not_an_object_is_one_line(tmp_path, store_tiny, content):
    from evaluation.__main__ import main
    from evaluation.store import StoreError

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_bytes(content)
    answer = f"{out / 'run.json'} is not a run record (a JSON object written by `python -m evaluation run`): " \
             f"restore or delete it, or choose another --out"
    with _store_pytest.raises(StoreError) as refused:
        _store_run(out)
    assert str(refused.value) == answer and store_tiny == []
    for argv in (_store_cli(out), ["report", str(out)]):
        with _store_pytest.raises(SystemExit) as failed:
            main(argv)
        assert failed.value.code == f"error: {answer}"
    assert (out / "run.json").read_bytes() == content  # left as it was, for the user to look at
    (out / "run.json").unlink()
    assert _store_run(out)["generated"] == 2
    main(["report", str(out)])


# ---------------------------------------------------------------- 19: durability
def test_store_images_rows_and_new_folders_are_fsynced(tmp_path, monkeypatch):
    import os

    from PIL import Image

    from evaluation.store import RunStore

    synced = []
    real_fsync = os.fsync

    def fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path.resolve() / "run"
    store = RunStore(out)
    assert {str(tmp_path.resolve()), str(out)} <= set(synced)  # the new run folder and its images/ are durable
    synced.clear()
    file = "images/hub_a_b_x/ddim-2steps-g3/p0000-s00-seed0.png"
    store.add(Image.new("RGB", (4, 4)), {"key": "k", "file": file})
    png = out / file
    assert any(p.startswith(str(png.parent / ".p0000-s00-seed0.png.")) and p.endswith(".tmp") for p in synced)
    for folder in (out / "images", png.parent.parent, png.parent, out):  # parents of new folders; the renames
        assert str(folder) in synced, folder
    assert str(out / "rows.jsonl") in synced and png.is_file()
    synced.clear()
    store.add(Image.new("RGB", (4, 4)), {"key": "k2", "file": file.replace("p0000", "p0001")})
    assert str(out / "rows.jsonl") in synced and str(png.parent) in synced
# ==== end run store and prompt sets ====

# ==== demo and its API ====
# One demo on the conftest's tiny diffusion model and the shipped GAN, served for real and called through
# gradio_client (and raw HTTP where the client would refuse to send the value), once per module.
import pytest  # noqa: E402


def _demo_record(model: str = "tiny") -> dict:
    return {"model": model, "family": "ddpm", "sampler": "ddim", "steps": 4, "guidance": 3.0, "n": 2, "fid": {},
            "kid": {}, "clip_score": None, "accuracy": {}, "images_per_s": 1.5}


def _demo_runs(root):
    """A runs folder with one good run and every malformed kind the Evaluation tab must skip."""
    import json

    bad = {"list-metrics": ("[]", None), "not-json": ("{records:", None), "list-settings": (None, "[]"),
           "missing-fields": (json.dumps({"records": [{"model": "tiny"}]}), None),
           "string-records": (json.dumps({"records": ["tiny"]}), None), "no-records": ("{}", None)}
    good = json.dumps({"records": [_demo_record()]})
    for name, (metrics, settings) in {**bad, "good": (good, '{"prompts": "shapes-quick", "n": 2}')}.items():
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(metrics or good)
        if settings is not None:
            (root / name / "run.json").write_text(settings)
    (root / "good" / "rows.jsonl").write_text("\x00garbage{\n[1, 2\n")
    (root / "good" / "grid-g3.png").write_bytes(b"not a png")
    return sorted(bad)


class _DemoWatched:
    """The tiny generator, counting how many generations run at once and how many steps were taken."""

    def __init__(self, inner):
        import threading

        self.inner, self.info, self.active, self.peak, self.steps = inner, inner.info, 0, 0, 0
        self.lock = threading.Lock()

    def generate(self, *args, on_step=None, **kwargs):
        def counted(*step):
            self.steps += 1
            if on_step is not None:
                on_step(*step)

        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return self.inner.generate(*args, on_step=counted, **kwargs)
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture(scope="module")
def demo_served(tiny_generator, tmp_path_factory):
    from gradio_client import Client

    from demo.app import build
    from demo.handlers import DemoSession
    from models.registry import load
    from models.text.planners import make_planner

    runs = tmp_path_factory.mktemp("runs")
    skipped = _demo_runs(runs)
    watched = _DemoWatched(tiny_generator)
    session = DemoSession({"tiny": watched, "gan": load("gan")}, make_planner("rules"))
    app = build(session=session, queue_size=3, runs=runs)  # malformed runs: the app still builds
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield {"app": app, "client": Client(app.local_url, verbose=False), "watched": watched, "runs": runs,
               "skipped": skipped, "url": app.local_url}
    finally:
        app.close()


def _demo_good(client, seed: int = 1):
    """A good request after a bad one: the app keeps serving."""
    out = client.predict("a red circle", seed, False, 2, 3.0, "ddim", True, api_name="/compare")
    assert out[0] == seed and out[2]["value"] is not None
    return out


def _demo_refused(client, args, api_name, match):
    with pytest.raises(Exception, match=match):
        client.predict(*args, api_name=api_name)
    _demo_good(client)


def _demo_workers_done(watched, within: float = 5.0) -> bool:
    import threading
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if watched.active == 0 and not any(t.name == "genbench-generate" for t in threading.enumerate()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("steps", [None, "5", 2.5, 0, 1001, True])
def test_demo_malformed_steps_get_the_reason(demo_served, steps):
    _demo_refused(demo_served["client"], ("a red circle", 0, False, steps, 3.0, "ddim", True), "/compare",
                  r"Steps must be a whole number from 1 to 1000")


@pytest.mark.parametrize("guidance", [None, "3", -1, 51])
def test_demo_malformed_guidance_gets_the_reason(demo_served, guidance):
    _demo_refused(demo_served["client"], ("a red circle", 0, False, 2, guidance, "ddim", True), "/compare",
                  r"Guidance must be a finite number from 0 to 50")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-1", "1.5", "\"7\"", "4294967296"])
def test_demo_json_seed_nan_or_out_of_range_gets_the_reason(demo_served, literal):
    import json

    import httpx

    url = demo_served["url"] + "gradio_api/call/compare"
    body = f'{{"data": ["a red circle", {literal}, false, 2, 3.0, "ddim", true]}}'  # NaN: JSON as Python writes it
    event = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30).json()["event_id"]
    answer = httpx.get(f"{url}/{event}", timeout=30).text
    error = json.loads(answer.split("event: error\ndata: ", 1)[1].splitlines()[0])["error"]
    assert error.startswith("Seed must be a whole number from 0 to 2147483647"), answer
    _demo_good(demo_served["client"])


@pytest.mark.parametrize("prompt, match", [(None, "Type a prompt first"), ("   ", "Type a prompt first"),
                                           (123, "The prompt must be text, got int"),
                                           (["a red circle"], "The prompt must be text, got list")])
def test_demo_prompt_missing_or_not_text_gets_the_reason(demo_served, prompt, match):
    _demo_refused(demo_served["client"], (prompt, 0, False, 2, 3.0, "ddim", True), "/compare", match)


def test_demo_flags_and_model_of_the_wrong_type_get_the_reason(demo_served):
    client = demo_served["client"]
    _demo_refused(client, ("a red circle", 0, "yes", 2, 3.0, "ddim", True), "/compare",
                  "Randomise seed must be true or false")
    _demo_refused(client, ("a red circle", 0, False, 2, 3.0, "ddim", 1), "/compare", "Rewrite must be true or false")
    _demo_refused(client, (["tiny"], "a red circle", 0, 2, 3.0, "ddim", True), "/generate",
                  r"Unknown model \['tiny'\]; loaded: tiny, gan")
    _demo_refused(client, ("gan", "a red circle", 0, 2, "1, 3", "ddim", True), "/sweep",
                  r"Guidance does not apply to gan")


@pytest.mark.parametrize("scales, match", [(None, "numbers separated by commas, got None"),
                                           ("1, inf", "finite number"), ("x" * 150, "got 'xxxx"),
                                           ("1," * 1_000_000, "Give from 1 to 8 guidance scales")])
def test_demo_sweep_bad_scales_get_a_short_reason(demo_served, scales, match):
    with pytest.raises(Exception, match=match) as refused:
        demo_served["client"].predict("tiny", "a red circle", 0, 2, scales, "ddim", True, api_name="/sweep")
    assert len(str(refused.value)) < 200  # the value is quoted, never echoed whole
    row = demo_served["client"].predict("tiny", "a red circle", 0, 2, "0, 3", "ddim", True, api_name="/sweep")
    assert [item["caption"] for item in row] == ["guidance 0", "guidance 3"]


def test_demo_huge_prompt_is_refused_before_the_planner(demo_served):
    import gradio as gr

    from demo import handlers
    from demo.handlers import DemoSession

    class Planner:
        def plan(self, prompt):
            raise AssertionError("the planner saw a prompt over the limit")

    huge = "a red circle " * 1_600_000  # about 20 MB
    session = DemoSession({"tiny": demo_served["watched"]}, Planner())
    for call in (lambda: next(handlers.compare(session, huge, 0, False, 2, 3.0, "ddim", True)),
                 lambda: next(handlers.sweep(session, "tiny", huge, 0, 2, "1", "ddim", True)),
                 lambda: next(handlers.generate_one(session, "tiny", huge, 0, 2, 3.0, "ddim", True))):
        with pytest.raises(gr.Error, match=r"The prompt is 20800000 characters long; the limit is 500\."):
            call()
    _demo_refused(demo_served["client"], ("x" * 2_000_000, 0, False, 2, 3.0, "ddim", True), "/compare",
                  r"The prompt is 2000000 characters long; the limit is 500")


def test_demo_compare_sweep_and_generate_at_once_run_one_at_a_time(demo_served):
    from gradio_client import Client

    watched = demo_served["watched"]
    assert _demo_workers_done(watched)
    watched.peak = 0
    clients = [Client(demo_served["url"], verbose=False) for _ in range(3)]
    jobs = [clients[0].submit("a red circle", 3, False, 8, 3.0, "ddim", True, api_name="/compare"),
            clients[1].submit("tiny", "a red circle", 3, 8, "1, 3", "ddim", True, api_name="/sweep"),
            clients[2].submit("tiny", "a red circle", 3, 8, 3.0, "ddim", True, api_name="/generate")]
    compared, row, image = [job.result(timeout=60) for job in jobs]
    assert compared[0] == 3 and len(row) == 2 and image is not None
    assert watched.peak == 1  # one generation at a time across the app, not one per endpoint


def test_demo_cancelled_requests_stop_generating_within_a_step(demo_served):
    import time

    client, watched = demo_served["client"], demo_served["watched"]
    jobs = [client.submit("a red circle", i, False, 1000, 3.0, "ddim", True, api_name="/compare") for i in range(3)]
    deadline = time.monotonic() + 30
    while watched.active == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for job in jobs:
        job.cancel()
    assert _demo_workers_done(watched, within=5.0), "the worker kept generating after its request was cancelled"
    steps = watched.steps
    time.sleep(0.5)
    assert watched.steps == steps  # nothing runs in the background any more
    _demo_good(client)


def test_demo_closing_a_stream_stops_its_worker(demo_served):
    from demo import handlers
    from demo.handlers import DemoSession
    from models.text.planners import make_planner

    watched = demo_served["watched"]
    assert _demo_workers_done(watched)
    updates = handlers.compare(DemoSession({"tiny": watched}, make_planner("rules")), "a red circle", 0, False,
                               1000, 3.0, "ddim", True)
    next(updates)
    next(updates)
    updates.close()  # what Gradio does to a cancelled request
    assert _demo_workers_done(watched, within=2.0)


def test_demo_full_queue_answers_busy_and_serves_again(demo_served):
    import time

    from gradio_client import Client

    clients = [Client(demo_served["url"], verbose=False) for _ in range(8)]
    jobs = [c.submit("a red circle", i, False, 1000, 3.0, "ddim", True, api_name="/compare")
            for i, c in enumerate(clients)]
    time.sleep(2)
    refused = [str(job.exception()) for job in jobs if job.done() and job.exception() is not None]
    # queue_size=3: one runs, three wait, the other four are told at once
    assert len(refused) == 4 and all("queue is full" in e.lower() for e in refused), refused
    for job in jobs:
        job.cancel()
    assert _demo_workers_done(demo_served["watched"], within=10.0)
    _demo_good(demo_served["client"])


def test_demo_upload_over_the_limit_is_refused_and_temp_files_are_cleaned(demo_served):
    import pathlib

    import httpx
    from gradio.route_utils import delete_files_created_by_app

    from demo.app import CACHE_CLEANUP

    app, url = demo_served["app"], demo_served["url"]
    big = httpx.post(url + "gradio_api/upload", files={"files": ("big.bin", b"x" * (6 * 2**20))}, timeout=60)
    assert big.status_code == 413 and "maximum allowed size of 5242880 bytes" in big.text
    small = httpx.post(url + "gradio_api/upload", files={"files": ("small.bin", b"x" * 1000)}, timeout=60)
    kept = pathlib.Path(small.json()[0])
    _demo_good(demo_served["client"])
    tracked = [pathlib.Path(f) for files in app.temp_file_sets for f in files]
    assert app.delete_cache == CACHE_CLEANUP and kept in tracked and len(tracked) > 1  # the upload, the images
    delete_files_created_by_app(app, age=0)  # what the scheduled cleanup does to files past their age
    assert not any(path.exists() for path in tracked)
    _demo_good(demo_served["client"])


def test_demo_malformed_run_folders_are_skipped_with_a_note(demo_served):
    from demo.evaluation_tab import view

    text, pictures = view(demo_served["runs"], None)
    assert text.startswith("**good**") and "| tiny |" in text
    for name in demo_served["skipped"]:
        assert f"Skipped `{name}`:" in text
    assert "Skipped `good/grid-g3.png`: not a readable image" in text and pictures == []
    text, _ = view(demo_served["runs"], "list-metrics")  # asking for a skipped run shows the readable one
    assert text.startswith("**good**")
    shown = [c["props"].get("value") for c in demo_served["app"].config["components"] if c["type"] == "markdown"]
    assert any("Skipped `list-metrics`: metrics.json is not an object" in (v or "") for v in shown)
    _demo_good(demo_served["client"])


def test_demo_only_malformed_runs_still_builds_and_says_why(tmp_path):
    from demo.evaluation_tab import view

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("[]")
    text, pictures = view(tmp_path, None)
    assert "No evaluation runs" in text and "Skipped `broken`: metrics.json is not an object" in text
    assert pictures == []


def test_demo_two_requests_on_one_hub_pipeline_at_once(demo_served):
    import threading

    import numpy as np

    from models import tiny_hub
    from models.hub import HubGenerator

    generator = HubGenerator("hub:tiny-ddpm", tiny_hub.tiny_ddpm())
    requests = {1: "ddim", 2: "dpm++"}  # different schedulers too: each call swaps the pipeline's
    alone = {seed: np.asarray(generator.generate(["x"], seed=seed, steps=6, sampler=sampler)[0])
             for seed, sampler in requests.items()}
    together, errors = {}, []

    def call(seed):
        try:
            together[seed] = np.asarray(generator.generate(["x"], seed=seed, steps=6, sampler=requests[seed])[0])
        except Exception as error:  # before the lock: IndexError / AttributeError from the shared scheduler
            errors.append(error)

    threads = [threading.Thread(target=call, args=(seed,)) for seed in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and all(np.array_equal(together[seed], alone[seed]) for seed in requests)
    _demo_good(demo_served["client"])
# ==== end demo and its API ====
