"""The report's image grids: rows = the first prompts (sample 0), columns = the world's rendering of the same prompt
and seed, then each generator, one grid per guidance scale. Every cell has a visible border and, where the prompt
has a world target, the judge's verdict: a green check or a red cross in its corner, and the reason it failed as
the image's hover and alt text in report.html (report.md shows the PNG, which carries the marks)."""
from __future__ import annotations

import base64
import dataclasses
import html
import io
import pathlib
from collections import defaultdict

from PIL import Image, ImageDraw

from evaluation.report.plots import shown_model
from models.files import atomic_path
from world.references import reference_image

GRID_PROMPTS = 8
GRID_SCALE = 3  # 32x32 images shown at 96x96
BORDER = 2
PASS, FAIL = (30, 150, 60), (210, 40, 40)


@dataclasses.dataclass(frozen=True)
class Cell:
    image: Image.Image
    verdict: bool | None  # None: no world target, nothing to judge
    reason: str


@dataclasses.dataclass(frozen=True)
class Grid:
    title: str
    path: pathlib.Path  # the PNG
    columns: list[str]
    prompts: list[str]
    cells: list[list[Cell | None]]  # [prompt][column]


def _verdict(row: dict, image: Image.Image, reference: bool) -> tuple[bool | None, str]:
    """The judge's verdict on a cell, from the row (rows from before the `reason` column are judged again)."""
    if row["target"] is None:
        return None, ""
    if not reference and row.get("reason") is not None and row["correct"] is not None:
        return bool(row["correct"]), row["reason"]
    from world.accuracy import judge

    verdict = judge(row["target"], image)
    return bool(verdict["full"]), verdict["reason"]


def _cells_by_guidance(rows: dict[str, dict]) -> dict[float | None, dict[tuple[str, int], dict]]:
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
    return {g: {**one_pass, **cells} for g, cells in sorted(by_guidance.items(), key=lambda kv: kv[0] or 0)}


def _grid_cells(root: pathlib.Path, cells: dict[tuple[str, int], dict]) -> tuple[list[str], list[str], list[list]]:
    models = sorted({m for m, _ in cells})
    prompts = sorted({j for _, j in cells})[:GRID_PROMPTS]
    columns = ["reference"] + models  # the first column: the world's rendering of the same prompt and seed
    texts, table = [], []
    for j in prompts:
        first = next(r for (m, jj), r in sorted(cells.items()) if jj == j)
        texts.append(first["prompt"])
        line = []
        for model in columns:
            row = first if model == "reference" else cells.get((model, j))
            if row is None or (model == "reference" and row["target"] is None):
                line.append(None)
                continue
            image = (reference_image(row["target"], row["seed"]) if model == "reference"
                     else Image.open(root / row["file"]).convert("RGB"))
            line.append(Cell(image, *_verdict(row, image, model == "reference")))
        table.append(line)
    return columns, texts, table


def _mark(draw: ImageDraw.ImageDraw, x: int, y: int, passed: bool) -> None:
    """A 14 px badge at (x, y): a check on green or a cross on red, drawn as lines (no font needed)."""
    draw.ellipse((x, y, x + 14, y + 14), fill=PASS if passed else FAIL, outline="white")
    if passed:
        draw.line([(x + 3, y + 7), (x + 6, y + 10), (x + 11, y + 4)], fill="white", width=2)
    else:
        draw.line([(x + 4, y + 4), (x + 10, y + 10)], fill="white", width=2)
        draw.line([(x + 10, y + 4), (x + 4, y + 10)], fill="white", width=2)


def _draw(columns: list[str], prompts: list[str], table: list[list[Cell | None]]) -> Image.Image:
    side, label_width, header = 32 * GRID_SCALE, 260, 26
    step = side + BORDER
    grid = Image.new("RGB", (label_width + step * len(columns) + BORDER, header + step * len(prompts) + BORDER), "white")
    draw = ImageDraw.Draw(grid)
    for column, name in enumerate(columns):
        draw.multiline_text((label_width + column * step + 4, 2), name.rstrip("/").split("/")[-1].replace(" (", "\n(")[:34],
                            fill="black", spacing=1)
    for line, (text, cells) in enumerate(zip(prompts, table)):
        top = header + line * step
        draw.text((4, top + side // 2 - 6), text[:42], fill="black")
        for column, cell in enumerate(cells):
            left = label_width + column * step
            draw.rectangle((left, top, left + step + BORDER - 1, top + step + BORDER - 1), outline=(150, 150, 150),
                           width=BORDER)  # the cell's border
            if cell is None:
                continue
            grid.paste(cell.image.resize((side, side), Image.NEAREST), (left + BORDER, top + BORDER))
            if cell.verdict is not None:
                _mark(draw, left + side - 15, top + BORDER + 1, cell.verdict)
    return grid


def image_grids(root: pathlib.Path, rows: dict[str, dict]) -> list[Grid]:
    """One grid per guidance scale, written to root/grid-g<scale>.png (grid-one-pass.png without guidance)."""
    grids = []
    for guidance, cells in _cells_by_guidance(rows).items():
        columns, prompts, table = _grid_cells(root, cells)
        name = "grid-one-pass.png" if guidance is None else f"grid-g{guidance:g}.png"
        with atomic_path(root / name) as temporary:
            _draw(columns, prompts, table).save(temporary, format="PNG")
        title = "one-pass models" if guidance is None else f"guidance {guidance:g}"
        grids.append(Grid(title, root / name, columns, prompts, table))
    return grids


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def grid_html(grid: Grid) -> str:
    """The grid as an HTML table: bordered cells, the verdict in a corner, the judge's reason on hover."""
    head = "<th>prompt</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in grid.columns)
    body = []
    for text, cells in zip(grid.prompts, grid.cells):
        tds = [f"<td class='prompt'>{html.escape(text)}</td>"]
        for column, cell in zip(grid.columns, cells):
            if cell is None:
                tds.append("<td class='cell'></td>")
                continue
            say = {True: "✓ judged right", False: f"✗ {cell.reason}", None: "no world target: not judged"}[cell.verdict]
            about = html.escape(f"{column}: {text} — {say}", quote=True)
            mark = "" if cell.verdict is None else (f"<span class='mark {'ok' if cell.verdict else 'bad'}'>"
                                                    f"{'✓' if cell.verdict else '✗'}</span>")
            tds.append(f"<td class='cell'><img src='{_png(cell.image)}' alt='{about}' title='{about}'>{mark}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


GRID_STYLE = (".grid{border-collapse:separate;border-spacing:3px}"
              ".grid td.cell{border:2px solid #888;padding:0;position:relative;width:96px;height:96px}"
              ".grid img{width:96px;height:96px;display:block;image-rendering:pixelated}"
              ".grid td.prompt{text-align:left;max-width:260px;white-space:normal}.grid th{text-align:center}"
              ".mark{position:absolute;top:2px;right:2px;width:18px;height:18px;border-radius:9px;color:white;"
              "font:bold 13px/18px sans-serif;text-align:center}.mark.ok{background:#1e963c}.mark.bad{background:#d22828}")
