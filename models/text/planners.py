"""Which planner turns free text into a world caption and layout: the factory behind --planner."""
from __future__ import annotations

from models.text.planner import NoPlanner, RulePlanner


def make_planner(spec: str):
    """'rules' | 'none' | 'lm:PATH' (a local transformers causal LM) | 'chat:URL' (an OpenAI-compatible endpoint)."""
    if spec == "rules":
        return RulePlanner()
    if spec == "none":
        return NoPlanner()
    if spec.startswith("lm:"):
        from models.text.planner_llm import LocalLMPlanner
        return LocalLMPlanner(spec[3:])
    if spec.startswith("chat:"):
        from models.text.planner_llm import ChatPlanner
        return ChatPlanner(spec[5:])
    raise ValueError(f"unknown planner {spec!r}: use rules, none, lm:PATH or chat:URL")

