"""LLM planners: a local transformers causal LM, or an OpenAI-compatible chat endpoint.

Whatever a model answers is checked against the world's caption grammar (models.world.parse_caption);
an answer that is not a caption, an "OUTSIDE" verdict, or a failed call falls back to the rules,
and the plan's notes say so. The rules also decide what is outside the world, so a model cannot
turn a drawable request into a refusal or an undrawable one into a random picture.
"""
from __future__ import annotations

import json
import os
import pathlib
import urllib.error
import urllib.request

from models.text.planner import MAX_PLAN_CHARS, Plan, RulePlanner, understood
from world import parse_caption

SYSTEM = """You rewrite a drawing request into exactly one caption of the Shapes world, in this grammar:
single: a [small|large] COLOR SHAPE [POSITION]
pair:   a COLOR SHAPE RELATION a COLOR SHAPE
count:  two|three COLOR SHAPES
COLOR: red, green, blue, yellow, purple, orange, cyan. SHAPE: circle, square, triangle, cross (plurals circles,
squares, triangles, crosses). POSITION: in the top left, at the top, in the top right, on the left, in the center,
on the right, in the bottom left, at the bottom, in the bottom right. RELATION: to the left of, to the right of,
above, below. Answer with the caption alone on one line, or OUTSIDE: <reason> if it cannot be drawn."""
EXAMPLES = [
    ("draw a crimson ball up in the left corner", "a red circle in the top left"),
    ("two little blue boxes", "two blue squares"),
    ("put a green plus under an orange triangle", "a green cross below a orange triangle"),
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


class _LLMPlanner:
    name = "llm"

    def __init__(self) -> None:
        self.rules = RulePlanner()

    def answer(self, text: str) -> str:
        raise NotImplementedError

    def plan(self, text: str) -> Plan:
        if not text or not text.strip() or len(text) > MAX_PLAN_CHARS:
            return self.rules.plan(text)  # the same one-line refusals, without a model call
        try:
            answer = self.answer(text)
        except Exception as error:  # a dead endpoint or a broken model must not take the app down
            return self._fall_back(text, f"{self.name} failed ({type(error).__name__}: {str(error)[:80]})")
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


class ChatPlanner(_LLMPlanner):
    """An OpenAI-compatible chat-completions endpoint: chat:URL or chat:URL#MODEL.

    URL is the API base (http://host:8000/v1) or the full .../chat/completions address; the key, if
    any, comes from $OPENAI_API_KEY; MODEL defaults to $GENBENCH_PLANNER_MODEL, else "gpt-4o-mini".
    """

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
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            reply = json.loads(response.read().decode())
        return reply["choices"][0]["message"]["content"]
