"""LLM planners: a local transformers causal LM, or an OpenAI-compatible chat endpoint.

Whatever a model answers is checked against the world's caption grammar (models.world.parse_caption);
an answer that is not a caption, an "OUTSIDE" verdict, or a failed call falls back to the rules,
and the plan's notes say so. The rules also decide what is outside the world, so a model cannot
turn a drawable request into a refusal or an undrawable one into a random picture.
"""
from __future__ import annotations

import http.client
import json
import os
import pathlib
import queue
import socket
import threading
import time
import urllib.error
import urllib.request

from models.text.planner import Plan, RulePlanner, refusal, understood
from world import parse_caption

SYSTEM = """You rewrite a drawing request into exactly one caption of the Shapes world, in this grammar:
single:  a [small|large] COLOR SHAPE [POSITION]
pair:    a COLOR SHAPE RELATION a COLOR SHAPE
count:   two|three|four|five COLOR SHAPES
multi:   a COLOR SHAPE, a COLOR SHAPE and a COLOR SHAPE (three or four different objects)
mixed:   two|three COLOR SHAPES and a COLOR SHAPE
between: a COLOR SHAPE between a COLOR SHAPE and a COLOR SHAPE (three different objects)
sizes:   a large COLOR SHAPE and a small COLOR SHAPE (either order, different objects)
COLOR: red, green, blue, yellow, purple, orange, cyan. SHAPE: circle, square, triangle, cross (plurals circles,
squares, triangles, crosses). POSITION: in the top left, at the top, in the top right, on the left, in the center,
on the right, in the bottom left, at the bottom, in the bottom right. RELATION: to the left of, to the right of,
above, below. Write "an" before a vowel (an orange circle). At most five objects in all. Answer with the caption
alone on one line, or OUTSIDE: <reason> if it cannot be drawn."""
EXAMPLES = [
    ("draw a crimson ball up in the left corner", "a red circle in the top left"),
    ("two little blue boxes", "two blue squares"),
    ("put a green plus under an orange triangle", "a green cross below an orange triangle"),
    ("three objects: a red ball, a navy box and a green plus", "a red circle, a blue square and a green cross"),
    ("a photo of a dog", "OUTSIDE: dogs are not part of the Shapes world"),
]


def messages_for(text: str) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM}]
    for request, answer in EXAMPLES:
        messages += [{"role": "user", "content": request}, {"role": "assistant", "content": answer}]
    return messages + [{"role": "user", "content": text}]


def caption_in(answer: str) -> str | None:
    """The world caption in a model's answer (first non-empty line, quotes and a final period dropped)."""
    lines = [line.strip() for line in str(answer).splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[0].strip("\"'` ").rstrip(".").strip()
    if line.lower().startswith("caption:"):
        line = line[len("caption:"):].strip()
    line = " ".join(line.lower().split())
    return line if parse_caption(line) is not None else None


MAX_REPLY_BYTES = 1 << 20  # a chat reply is a few hundred bytes; more is a broken or hostile endpoint
MAX_ANSWER_CHARS = 2000  # what of an answer is read for its caption (it asks for max_tokens 40)


class PlannerCallError(RuntimeError):
    """A planner call that failed in a known way; the message is one line, shown as the fallback note."""


def one_line(text: str, limit: int = 80) -> str:
    return " ".join(str(text).split())[:limit]


class _LLMPlanner:
    name = "llm"
    # what a call may fail with and still fall back to the rules (beyond PlannerCallError): nothing for a local
    # model, whose crash is a bug to see; network and HTTP errors for an endpoint
    call_failures: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self.rules = RulePlanner()

    def answer(self, text: str) -> str:
        raise NotImplementedError

    def plan(self, text: str) -> Plan:
        if refusal(text) is not None:  # checked first: a huge text is never copied or sent
            return self.rules.plan(text)  # the same one-line refusals, without a model call
        try:
            answer = self.answer(text)
            if not isinstance(answer, str):
                raise PlannerCallError(f"the answer is {type(answer).__name__}, not text")
        except PlannerCallError as error:
            return self._fall_back(text, f"{self.name} failed ({one_line(error, 200)})")
        except self.call_failures as error:  # a dead endpoint; anything else is a bug, and surfaces
            return self._fall_back(text, f"{self.name} failed ({type(error).__name__}: {one_line(error)})")
        answer = answer[:MAX_ANSWER_CHARS]
        caption = caption_in(answer)
        if caption is None:
            return self._fall_back(text, f"{self.name} answered {answer.strip()[:60]!r}, not a world caption")
        return understood(text, caption, planner=self.name, notes=[f"caption written by {self.name}"])

    def _fall_back(self, text: str, why: str) -> Plan:
        plan = self.rules.plan(text)
        plan.notes.insert(0, f"{why}; used the rules")
        plan.planner = f"{self.name}->rules"
        return plan


class LocalLMPlanner(_LLMPlanner):
    """A transformers causal LM from a local folder, greedy-decoded; chat template when it has one."""

    def __init__(self, path: str, max_new_tokens: int = 32) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not pathlib.Path(path).is_dir():
            raise ValueError(f"no language model folder at {path} (give lm:PATH to a save_pretrained folder)")
        self.name = f"lm:{pathlib.Path(path).name}"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
        self.max_new_tokens = max_new_tokens

    def answer(self, text: str) -> str:
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template(messages_for(text), tokenize=False, add_generation_prompt=True)
        else:
            shots = "".join(f"Request: {r}\nCaption: {a}\n" for r, a in EXAMPLES)
            prompt = f"{SYSTEM}\n{shots}Request: {text}\nCaption:"
        inputs = self.tokenizer(prompt, return_tensors="pt")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused: urllib would send the Authorization header (the API key) along to any host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        fp.close()
        raise PlannerCallError(f"redirected ({code}) to {one_line(newurl, 60)}, not followed: the API key goes "
                               f"to the given URL only; give the final URL")


class _Tracking:
    """A handler mixin that records the socket of each connection it opens in `sockets`, so that the deadline
    can shut it: a read blocked inside http.client (a header sent a byte at a time) then returns at once."""

    def __init__(self, sockets: list, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sockets = sockets

    def do_open(self, http_class, req, **kwargs):
        sockets = self.sockets

        class Connection(http_class):
            def connect(self) -> None:
                super().connect()
                sockets.append(self.sock)

        return super().do_open(Connection, req, **kwargs)


class _HTTP(_Tracking, urllib.request.HTTPHandler):
    pass


class _HTTPS(_Tracking, urllib.request.HTTPSHandler):
    pass


def opener(sockets: list) -> urllib.request.OpenerDirector:
    """urllib without redirects, its sockets recorded in `sockets`."""
    return urllib.request.build_opener(_NoRedirect, _HTTP(sockets), _HTTPS(sockets))


def shut(sockets: list) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


JSON_TYPES = {type(None): "null", list: "a list", dict: "an object", bool: "a boolean", int: "a number",
              float: "a number"}


def read_capped(response, deadline: float) -> bytes:
    """The reply body, refused past MAX_REPLY_BYTES or the deadline (the socket timeout is per read only)."""
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > MAX_REPLY_BYTES:
        raise PlannerCallError(f"the reply is {int(length)} bytes, over the {MAX_REPLY_BYTES} byte limit")
    chunks, size = [], 0
    while chunk := response.read1(1 << 16):  # read1: returns what has arrived, so the deadline is checked often
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise PlannerCallError(f"the reply is over the {MAX_REPLY_BYTES} byte limit")
        if time.monotonic() > deadline:
            raise PlannerCallError("the reply was still arriving at the deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def content_of(raw: bytes) -> str:
    """choices[0].message.content of a chat-completions reply; PlannerCallError for anything else."""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        head = one_line(raw[:60].decode("utf-8", "replace"), 60)
        raise PlannerCallError(f"the reply is not JSON: {head!r}") from None
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise PlannerCallError("the reply has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise PlannerCallError(f"the reply's content is {JSON_TYPES.get(type(content), 'not text')}, not text")
    return content


def within(seconds: float, call):
    """call() on a daemon thread, its result or error; PlannerCallError once `seconds` have passed
    (the caller then shuts the thread's sockets, so it stops too)."""
    results: queue.Queue = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            results.put((True, call()))
        except BaseException as error:  # handed to the caller, whatever it is
            results.put((False, error))

    threading.Thread(target=work, name="chat-planner", daemon=True).start()
    try:
        ok, value = results.get(timeout=seconds)
    except queue.Empty:
        raise PlannerCallError(f"no complete reply within {seconds:g} s") from None
    if ok:
        return value
    raise value


class ChatPlanner(_LLMPlanner):
    """An OpenAI-compatible chat-completions endpoint: chat:URL or chat:URL#MODEL.

    URL is the API base (http://host:8000/v1) or the full .../chat/completions address; the key, if
    any, comes from $OPENAI_API_KEY; MODEL defaults to $GENBENCH_PLANNER_MODEL, else "gpt-4o-mini".
    `timeout` bounds the whole call (connect, headers and body); redirects are never followed.
    """

    call_failures = (OSError, http.client.HTTPException)  # URLError, HTTPError, timeouts, resets, bad status lines

    def __init__(self, spec: str, timeout: float = 20.0) -> None:
        super().__init__()
        url, _, model = spec.partition("#")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"chat planner needs an http(s) URL, got {url!r}")
        self.url = url if url.rstrip("/").endswith("/chat/completions") else url.rstrip("/") + "/chat/completions"
        self.model = model or os.environ.get("GENBENCH_PLANNER_MODEL", "gpt-4o-mini")
        self.timeout = timeout
        self.name = f"chat:{self.model}"

    def answer(self, text: str) -> str:
        body = json.dumps({"model": self.model, "messages": messages_for(text), "temperature": 0,
                           "max_tokens": 40}).encode()
        headers = {"Content-Type": "application/json"}
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        deadline, sockets = time.monotonic() + self.timeout, []

        def call() -> str:
            with opener(sockets).open(request, timeout=self.timeout) as response:
                return content_of(read_capped(response, deadline))

        try:
            return within(self.timeout, call)
        finally:
            shut(sockets)  # a worker still reading past the deadline stops now
