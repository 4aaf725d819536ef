"""`python -m evaluation perf`'s readable output: one Markdown table per section of a PerfReport."""
from __future__ import annotations

from evaluation.markdown_tables import markdown_table


def _g(value: float, digits: int = 3) -> str:
    """3 significant digits, without an exponent for counts in the thousands (a GAN's images/s)."""
    return f"{value:.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"


def _section(title: str, header: list[str], body: list[list[str]]) -> str:
    return f"### {title}\n\n" + (markdown_table(header, body) if body else "(not measured)")


def batching_section(report) -> str:
    s = report.settings
    return _section(f"(a) images/s, one at a time vs batch {s.batch_size} ({s.prompts} prompts, {s.steps} DDIM "
                    f"steps, guidance {s.guidance:g}, median of {s.repeats})",
                    ["model", "family", "batch 1", f"batch {s.batch_size}", "batched / one"],
                    [[r.model, r.family, _g(r.one_at_a_time_images_per_s), _g(r.batched_images_per_s),
                      f"{r.speedup:.2f}x"] for r in report.batching])


def mfu_section(report) -> str:
    return _section(f"(b) model-FLOPs utilisation vs the fp32 matmul peak measured now "
                    f"({report.matmul_peak_gflops:.1f} GFLOP/s)",
                    ["model", "GFLOP / evaluation", "GFLOP/s batch 1", "MFU batch 1", "GFLOP/s batched",
                     "MFU batched"],
                    [[r.model, _g(r.flops_per_evaluation / 1e9), _g(r.batch1_gflops), f"{r.batch1_mfu:.0%}",
                      _g(r.batched_gflops), f"{r.batched_mfu:.0%}"] for r in report.mfu])


def hub_section(report) -> str:
    return _section("(c) stock diffusers pipeline vs our HubGenerator, same weights and scheduler "
                    "(speedup > 1: ours is faster)",
                    ["pipeline", "scheduler", "images", "steps", "stock s", "ours s", "speedup"],
                    [[r.pipeline, r.scheduler, str(r.images), str(r.steps), _g(r.stock_seconds),
                      _g(r.ours_seconds), f"{r.speedup:.2f}x"] for r in report.hub])


def fid_section(report) -> str:
    dim = report.fid[0].dim if report.fid else report.settings.fid_dim
    return _section(f"(d) Frechet distance of {dim}-d statistics",
                    ["route", "seconds", "x ours", "FID", "relative difference from ours"],
                    [[r.route, _g(r.seconds), f"{r.slowdown:.1f}x", f"{r.value:.10g}",
                      f"{r.relative_difference:.1e}"] for r in report.fid])


def defaults_section(report) -> str:
    return _section("(e) images/s at each family's defaults (batched)",
                    ["model", "family", "steps", "guidance", "sampler", "batch", "images/s"],
                    [[r.model, r.family, str(r.steps), f"{r.guidance:g}", str(r.sampler), str(r.batch_size),
                      _g(r.images_per_s)] for r in report.defaults])


def ar_section(report) -> str:
    return _section("(g) autoregressive models: KV cache vs none (the same codes; median of "
                    f"{report.settings.repeats})",
                    ["model", "images", "batch", "guidance", "codes / image", "images/s cached", "tokens/s cached",
                     "images/s no cache", "tokens/s no cache", "cache speed-up"],
                    [[r.model, str(r.images), str(r.batch_size), f"{r.guidance:g}", str(r.tokens_per_image),
                      _g(r.cached_images_per_s), _g(r.cached_tokens_per_s), _g(r.uncached_images_per_s),
                      _g(r.uncached_tokens_per_s), f"{r.speedup:.2f}x"] for r in getattr(report, "ar", [])])


def demo_section(report) -> str:
    demo = report.demo
    if not demo.seconds:
        return f"### (f) demo compare latency\n\n{demo.note}"
    return f"### (f) demo compare latency\n\n{demo.seconds} s per call ({demo.note})"


def render(report) -> str:
    """The whole report as Markdown: a header line, then sections (a) to (g)."""
    head = (f"GenBench perf: device {report.device}, {report.threads} threads, torch {report.torch}, "
            f"fp32 matmul peak {report.matmul_peak_gflops:.1f} GFLOP/s")
    sections = (batching_section, mfu_section, hub_section, fid_section, defaults_section, demo_section, ar_section)
    return "\n\n".join([head] + [section(report) for section in sections])
