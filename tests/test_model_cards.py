"""docs/models.md's cards are the manifests as scripts/model_cards.py writes them: a manifest that changes without
the page being regenerated fails the check, naming the card; a field a manifest lacks shows as "–"."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("model_cards", ROOT / "scripts" / "model_cards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture
def copy(tmp_path, script):
    """(checkpoints, page): the shipped manifests (no weights: the cards read manifests only) and docs/models.md,
    regenerated from them."""
    checkpoints = tmp_path / "checkpoints"
    for manifest in script.CHECKPOINT_ROOT.glob(f"*/{script.MANIFEST}"):
        (checkpoints / manifest.parent.name).mkdir(parents=True)
        shutil.copy(manifest, checkpoints / manifest.parent.name / script.MANIFEST)
    page = tmp_path / "models.md"
    shutil.copy(script.PAGE, page)
    script.main(["--checkpoints", str(checkpoints), "--doc", str(page)])
    return checkpoints, page


def _edit(checkpoints: pathlib.Path, name: str, change) -> None:
    path = checkpoints / name / "generator.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _card(page: str, name: str) -> str:
    return page.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]


def test_the_committed_cards_are_what_the_manifests_say(script, capsys):
    script.main(["--check"])  # SystemExit naming the stale cards otherwise: run `python scripts/model_cards.py`
    assert "up to date" in capsys.readouterr().out


def test_a_changed_manifest_fails_the_check_naming_its_card(script, copy):
    checkpoints, page = copy
    script.main(["--check", "--checkpoints", str(checkpoints), "--doc", str(page)])
    _edit(checkpoints, "ldm", lambda m: m["metrics"].update(final_loss_ema_of_batches=0.123))
    with pytest.raises(SystemExit) as failed:
        script.main(["--check", "--checkpoints", str(checkpoints), "--doc", str(page)])
    assert "`ldm`" in str(failed.value) and "`dit`" not in str(failed.value)
    assert script.REGENERATE in str(failed.value)


def test_only_the_cards_block_is_rewritten(script, copy):
    checkpoints, page = copy
    before, _, after = script.split_page(page.read_text(encoding="utf-8"))
    _edit(checkpoints, "vae", lambda m: m["training"].update(steps=1234))
    script.main(["--checkpoints", str(checkpoints), "--doc", str(page)])
    text = page.read_text(encoding="utf-8")
    assert text.startswith(before) and text.endswith(after) and "## Training" in after
    assert "this run 1,234 steps" in _card(text, "vae")


def test_missing_fields_show_a_dash(script, copy):
    checkpoints, page = copy

    def strip(manifest):
        for key in ("world_version", "metrics", "warm_start", "train_config", "components"):
            manifest.pop(key)
        for key in ("steps", "wall_time_s", "reproduce", "command"):
            manifest["training"].pop(key)
    _edit(checkpoints, "dit", strip)
    (checkpoints / "vq" / "generator.json").write_text("[]", encoding="utf-8")
    card = _card(script.render_cards(checkpoints), "dit")
    assert "**World version** it was trained on: –." in card
    assert "this run – steps, – on" in card and "warm start –" in card
    assert "**Metrics at save time** (manifest `metrics`): –." in card and "**Trained with**: –." in card
    assert "**Retrain**: – (" in card and "**Parameters** (manifest `components`): –;" in card
    assert "**Manifest unreadable**" in _card(script.render_cards(checkpoints), "vq")


def test_a_newly_installed_checkpoint_gets_its_card_in_the_registrys_order(script, copy):
    checkpoints, _ = copy
    for name in ("flow", "dit-t5"):  # as before they were trained
        shutil.rmtree(checkpoints / name)
    for name, source in (("flow", "dit"), ("a-new-part", "vae")):
        (checkpoints / name).mkdir()
        shutil.copy(checkpoints / source / "generator.json", checkpoints / name / "generator.json")
    names = script.HEADING.findall(script.render_cards(checkpoints))
    assert names.index("dit-layout") < names.index("flow") < names.index("gan")  # models.registry.BUILTIN's order
    assert names.index("ar+dit") < names.index("a-new-part") < names.index("clip-evaluator")  # then by name
    assert "dit-t5" not in names  # a built-in with no checkpoint has no card


def test_the_composed_card_is_made_from_its_parts(script):
    card = _card(script.render_cards(), "ar+dit")
    assert "`ar` (the drafter) and `dit` (the finisher)" in card
    assert f"default {script.hybrid.DEFAULT_HANDOFF} " in card


def test_a_page_without_the_markers_is_a_one_line_error(script, tmp_path):
    page = tmp_path / "models.md"
    page.write_text("# Models\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no cards block"):
        script.main(["--check", "--doc", str(page)])
