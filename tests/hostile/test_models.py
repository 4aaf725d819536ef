"""Hostile input to the models' helpers: the chat planner's HTTP replies (slow, huge, malformed, redirected),
the planner's input size, and devices that do not exist. Each gets one line or a fallback, never a hang."""
from __future__ import annotations

import http.server
import json
import threading

import pytest



# ---------------------------------------------------------------- the chat planner over HTTP
class _FnChatServer:
    """A chat-completions endpoint whose answer `mode` picks: a reply object, raw bytes, a slow drip,
    a huge body or a redirect. Records each request's path and Authorization header."""

    def __init__(self):
        self.mode, self.reply, self.raw, self.location = "reply", "a red circle", b"", ""
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((self.path, self.headers.get("Authorization")))
                try:
                    getattr(owner, f"_{owner.mode}")(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: expected
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _reply(self, handler):
        choice = {"index": 0, "message": {"role": "assistant", "content": self.reply}}
        self._raw(handler, json.dumps({"choices": [choice]}).encode())

    def _raw(self, handler, body=None):
        body = self.raw if body is None else body
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _drip(self, handler):  # a valid reply, one byte every 0.2 s: each read is quick, the whole is not
        body = json.dumps({"choices": [{"message": {"content": "a red circle"}}]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body[:30]:
            handler.wfile.write(bytes([byte]))
            threading.Event().wait(0.2)

    def _drip_headers(self, handler):
        handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
        for _ in range(30):
            handler.wfile.write(b"X-Slow: 1\r\n")
            threading.Event().wait(0.2)

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


@pytest.fixture(scope="module")
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


@pytest.mark.parametrize("content, phrase", [(None, "content is null, not text"),
                                                 ([{"type": "text", "text": "a red circle"}], "content is a list"),
                                                 (7, "content is a number"), ({"text": "x"}, "content is an object")])
def test_files_chat_content_that_is_not_text_falls_back_to_the_rules(fn_chat, content, phrase):
    fn_chat.mode, fn_chat.reply = "reply", content
    _fn_assert_fell_back(_fn_plan(fn_chat), phrase)
    _fn_assert_still_answers(fn_chat)


@pytest.mark.parametrize("raw, phrase", [
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


@pytest.mark.parametrize("mode", ["drip", "drip_headers"])
def test_files_chat_slow_drip_is_cut_at_the_total_deadline(fn_chat, mode):
    import time

    fn_chat.mode = mode
    started = time.monotonic()
    plan = _fn_plan(fn_chat, timeout=1.0)  # each byte comes well within the per-read timeout
    assert time.monotonic() - started < 2.5
    _fn_assert_fell_back(plan, "no complete reply within 1 s")
    for _ in range(50):  # the worker's socket was shut at the deadline: it ends, it does not linger on the drip
        if not any(t.name == "chat-planner" and t.is_alive() for t in threading.enumerate()):
            break
        time.sleep(0.02)
    assert not any(t.name == "chat-planner" and t.is_alive() for t in threading.enumerate())
    _fn_assert_still_answers(fn_chat)


def test_files_chat_reply_over_one_megabyte_is_refused(fn_chat):
    from models.text.planner_llm import MAX_REPLY_BYTES

    reply = {"choices": [{"message": {"content": "a red circle"}}], "padding": " " * (2 * MAX_REPLY_BYTES)}
    fn_chat.mode, fn_chat.raw = "raw", json.dumps(reply).encode()
    _fn_assert_fell_back(_fn_plan(fn_chat), f"over the {MAX_REPLY_BYTES} byte limit", "the reply is 2097")
    fn_chat.mode = "huge_unannounced"  # no Content-Length: counted as it arrives
    _fn_assert_fell_back(_fn_plan(fn_chat), f"the reply is over the {MAX_REPLY_BYTES} byte limit")
    _fn_assert_still_answers(fn_chat)


@pytest.mark.parametrize("code", [301, 302, 307, 308])
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
@pytest.mark.parametrize("spec, phrase", [("cudaX", "unknown device 'cudaX'"), ("cuda:٣", "unknown device"),
                                              ("cuda:-1", "unknown device"), ("gpu", "unknown device 'gpu'"),
                                              ("cuda:99", "'cuda:99'"), ("cuda:99999", "unknown device")])
def test_files_device_that_does_not_exist_is_a_one_line_value_error(spec, phrase):
    import torch
    from models.devices import DEVICE_HELP, DeviceError, resolve_device

    with pytest.raises(ValueError) as error:
        resolve_device(spec)
    message = str(error.value)
    assert isinstance(error.value, DeviceError) and phrase in message and "\n" not in message
    assert DEVICE_HELP in message or "GPU" in message
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(" CPU ") == "cpu"


@pytest.mark.parametrize("spec", ["cuda:99", "cudaX"])
def test_files_device_errors_are_one_line_and_nonzero_in_both_command_lines(spec, tmp_path, capsys):
    from evaluation.__main__ import main as evaluation_main
    from models.__main__ import main as models_main

    calls = [lambda: models_main(["sample", "--model", "ddpm", "--prompt", "a red circle", "--device", spec,
                                  "--out", str(tmp_path / "out")]),
             lambda: evaluation_main(["perf", "--device", spec]),
             lambda: evaluation_main(["accuracy", "--device", spec])]
    for call in calls:
        with pytest.raises(SystemExit) as stop:
            call()
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert spec in err and "Traceback" not in err


