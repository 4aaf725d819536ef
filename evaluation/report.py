"""report.md and a self-contained report.html from a run's metrics and images.

Tables per generator x setting (FID, KID +- std, CLIP score and accuracy per task with bootstrap
95 % intervals, images/s), an FID-vs-CLIP curve across guidance with one line per backbone,
accuracy vs guidance per task, accuracy and FID vs sampling steps when a run holds several step counts
(evaluation/steps_curve.py), and image grids (prompt x generator, same seed).
"""
from __future__ import annotations

import base64
import html
import pathlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from evaluation import steps_curve  # noqa: E402
from models.files import atomic_path, atomic_write  # noqa: E402
from world.references import reference_image  # noqa: E402

GRID_PROMPTS = 8
GRID_SCALE = 3  # 32x32 images shown at 96x96


def _interval(value) -> str:
    if value is None:
        return "–"
    mean, low, high = value
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _percent(value) -> str:
    if value is None:
        return "–"
    mean, low, high = value
    return f"{100 * mean:.0f} % [{100 * low:.0f}, {100 * high:.0f}]"


def shown_model(record: dict) -> str:
    """The model's name as tables, plots and grids show it: a layout-aware model's caption-only ablation
    (setting ...-nolayout) is a column and a line of its own."""
    return record["model"] + (" (no layout)" if str(record.get("setting", "")).endswith("-nolayout") else "")


def _guidance(record: dict) -> str:
    return "n/a" if record["guidance"] is None else f"{record['guidance']:g}"


def table(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    kinds = sorted({k for r in records for k in r["fid"]})
    categories = sorted({c for r in records for c in r["accuracy"]})
    header = ["model", "family", "sampler", "steps", "guidance", "n"]
    header += [f"FID ({k})" for k in kinds] + [f"KID ({k}) ×1e3" for k in kinds]
    header += ["CLIP score"] + [f"acc. {c}" for c in categories] + ["img/s"]
    body = []
    for r in sorted(records, key=lambda r: (shown_model(r), r["sampler"] or "", r["steps"] or 0, r["guidance"] or 0)):
        row = [shown_model(r), r["family"], r["sampler"] or "–", str(r["steps"] or "–"), _guidance(r), str(r["n"])]
        row += [f"{r['fid'][k]:.2f}" if r["fid"].get(k) is not None else "–" for k in kinds]
        row += [f"{1e3 * r['kid'][k][0]:.2f} ± {1e3 * r['kid'][k][1]:.2f}" if r["kid"].get(k) else "–" for k in kinds]
        row += [_interval(r["clip_score"])] + [_percent(r["accuracy"].get(c)) for c in categories]
        row += [f"{r['images_per_s']:.2f}"]
        body.append(row)
    return header, body


def _lines(records: list[dict]) -> dict[str, list[dict]]:
    """model + sampler + steps -> its records in guidance order (one line of a plot)."""
    lines: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        label = shown_model(r) if r["guidance"] is None else f"{shown_model(r)} ({r['sampler']}, {r['steps']} steps)"
        lines[label].append(r)
    return {k: sorted(v, key=lambda r: r["guidance"] or 0) for k, v in sorted(lines.items())}


def plot_fid_vs_clip(records: list[dict], path: pathlib.Path) -> bool:
    kind = "world" if any("world" in r["fid"] for r in records) else next((k for r in records for k in r["fid"]), None)
    points = [r for r in records if kind and r["fid"].get(kind) is not None and r["clip_score"] is not None]
    if not points:
        return False
    figure, axis = plt.subplots(figsize=(5.5, 4))
    for label, line in _lines(points).items():
        xs, ys = [r["clip_score"][0] for r in line], [r["fid"][kind] for r in line]
        axis.plot(xs, ys, marker="o", label=label)
        for r, x, y in zip(line, xs, ys):
            axis.annotate(f"g={_guidance(r)}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel("CLIP score (higher: closer to the prompt)")
    axis.set_ylabel(f"FID, {kind} features (lower: closer to real)")
    axis.set_title("FID vs CLIP score across guidance")
    axis.legend(fontsize=7)
    figure.tight_layout()
    _save_figure(figure, path)
    return True


def plot_accuracy(records: list[dict], path: pathlib.Path) -> bool:
    categories = sorted({c for r in records for c in r["accuracy"]})
    if not categories:
        return False
    figure, axes = plt.subplots(1, len(categories), figsize=(3.2 * len(categories), 3.2), sharey=True, squeeze=False)
    guidances = sorted({r["guidance"] for r in records if r["guidance"] is not None}) or [0.0]
    for axis, category in zip(axes[0], categories):
        for label, line in _lines(records).items():
            line = [r for r in line if r["accuracy"].get(category)]
            if not line:
                continue
            if line[0]["guidance"] is None:  # a one-pass model: a flat line across the guidance axis
                value = line[0]["accuracy"][category][0]
                axis.plot([guidances[0], guidances[-1]], [value, value], linestyle="--", label=label)
            else:
                axis.plot([r["guidance"] for r in line], [r["accuracy"][category][0] for r in line], marker="o",
                          label=label)
        axis.set_title(category)
        axis.set_xlabel("guidance scale")
        axis.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("accuracy (all that was asked)")
    axes[0][-1].legend(fontsize=6)
    figure.tight_layout()
    _save_figure(figure, path)
    return True


def _save_figure(figure, path: pathlib.Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def image_grids(root: pathlib.Path, rows: dict[str, dict]) -> list[tuple[str, pathlib.Path]]:
    """One grid per guidance scale: rows = the first prompts (sample 0), columns = generators, same seed."""
    by_guidance: dict[float | None, dict[tuple[str, int], dict]] = defaultdict(dict)
    one_pass = {}
    for row in rows.values():
        if row["sample"] != 0:
            continue
        column = shown_model(row)
        if row["guidance"] is None:
            one_pass[(column, row["prompt_index"])] = row
        elif (column, row["prompt_index"]) not in by_guidance[row["guidance"]] or row["sampler"] == "ddim":
            by_guidance[row["guidance"]][(column, row["prompt_index"])] = row
    if not by_guidance and one_pass:
        by_guidance[None] = {}
    grids = []
    for guidance, cells in sorted(by_guidance.items(), key=lambda kv: kv[0] or 0):
        cells = {**one_pass, **cells}
        models = sorted({m for m, _ in cells})
        prompts = sorted({j for _, j in cells})[:GRID_PROMPTS]
        side, label_width, header = 32 * GRID_SCALE, 260, 26
        columns = ["reference"] + models  # the first column: the world's rendering of the same prompt and seed
        grid = Image.new("RGB", (label_width + side * len(columns), header + side * len(prompts)), "white")
        draw = ImageDraw.Draw(grid)
        for column, model in enumerate(columns):
            name = model.rstrip("/").split("/")[-1]
            draw.multiline_text((label_width + column * side + 4, 2), name.replace(" (", "\n(")[:34], fill="black",
                                spacing=1)
        for line, j in enumerate(prompts):
            first = next(r for (m, jj), r in sorted(cells.items()) if jj == j)
            draw.text((4, header + line * side + side // 2 - 6), first["prompt"][:42], fill="black")
            for column, model in enumerate(columns):
                row = first if model == "reference" else cells.get((model, j))
                if row is None or (model == "reference" and row["target"] is None):
                    continue
                tile = (reference_image(row["target"], row["seed"]) if model == "reference"
                        else Image.open(root / row["file"]).convert("RGB"))
                grid.paste(tile.resize((side, side), Image.NEAREST), (label_width + column * side, header + line * side))
        name = "grid-one-pass.png" if guidance is None else f"grid-g{guidance:g}.png"
        with atomic_path(root / name) as temporary:
            grid.save(temporary, format="PNG")
        grids.append(("one-pass models" if guidance is None else f"guidance {guidance:g}", root / name))
    return grids


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    """A GitHub markdown table: the header, its |---| rule, one line per row (the one writer of them)."""
    return "\n".join([markdown_row(header), "|" + "---|" * len(header)] + [markdown_row(row) for row in body])


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _inline(path: pathlib.Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _steps_markdown(section) -> list[str]:
    if section is None:
        return []
    image = f"![{section.title}]({section.figure.name})"
    return [f"## {section.title}", "", image, "", markdown_table(section.header, section.body), "",
            *[f"- {line}" for line in section.sentences], ""]


def _steps_html(section) -> list[str]:
    if section is None:
        return []
    title = html.escape(section.title)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in section.sentences)
    return [f"<h2>{title}</h2><img src='{_inline(section.figure)}' alt='{title}'>",
            _html_table(section.header, section.body), f"<ul>{items}</ul>"]


def write(root: pathlib.Path, run: dict, records: list[dict], rows: dict[str, dict]) -> tuple[pathlib.Path, pathlib.Path]:
    header, body = table(records)
    figures = []
    if plot_fid_vs_clip(records, root / "fid_vs_clip.png"):
        figures.append(("FID vs CLIP score across guidance", root / "fid_vs_clip.png"))
    if plot_accuracy(records, root / "accuracy_vs_guidance.png"):
        figures.append(("Accuracy vs guidance, per task", root / "accuracy_vs_guidance.png"))
    steps = steps_curve.section(root, records, rows, shown_model)
    grids = image_grids(root, rows)
    intro = (f"Prompts `{run.get('prompts')}` ({run.get('n_prompts')} prompts × {run.get('n')} samples), "
             f"models {', '.join(run.get('models', []))}, {len(rows)} images. Accuracy: all the prompt asks, judged "
             f"by the world detector; CLIP score: {run.get('clip')} CLIP, 100·max(cos, 0); FID/KID against "
             f"{run.get('reference') or 'images rendered from the same world prompts'}; "
             f"[a, b]: bootstrap 95 % interval.")
    markdown = ["# GenBench report", "", intro, "", markdown_table(header, body), ""]
    markdown += [f"## {title}\n\n![{title}]({path.name})\n" for title, path in figures]
    markdown += _steps_markdown(steps)
    markdown += [f"## Images, {title}\n\n![{title}]({path.name})\n" for title, path in grids]
    atomic_write(root / "report.md", "\n".join(markdown) + "\n")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%;image-rendering:pixelated}")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>GenBench report</title><style>{style}</style>"
             f"</head><body><h1>GenBench report</h1><p>{html.escape(intro)}</p>", _html_table(header, body)]
    parts += [f"<h2>{html.escape(t)}</h2><img src='{_inline(p)}' alt='{html.escape(t)}'>" for t, p in figures]
    parts += _steps_html(steps)
    parts += [f"<h2>Images, {html.escape(t)}</h2><img src='{_inline(p)}' alt='{html.escape(t)}'>" for t, p in grids]
    atomic_write(root / "report.html", "".join(parts) + "</body></html>\n")
    return root / "report.md", root / "report.html"
