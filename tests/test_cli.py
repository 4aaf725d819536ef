"""What users type: `python -m models sample | list | train`, good and bad input."""
import dataclasses
import json
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from models.__main__ import build_parser, main
from models.checkpoints import CHECKPOINT_ROOT
from models.cli import recorded_command, resolve_training
from models.contract import MAX_GUIDANCE, MAX_PROMPT_CHARS
from models.registry import is_available


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "models", *args], capture_output=True, text=True, timeout=timeout)


def in_process(capsys, *args) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `python -m models ARGS` run in this process: no interpreter start-up, and
    the registry's cache loads each shipped model once per session (the script itself is run once per behaviour)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def one_line(stderr: str) -> str:
    """The one line a bad input prints on stderr (asserting there is exactly one, and no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--model", "no-such-model"], "unknown model"),
    (["--prompt", ""], "empty"),
    (["--prompt", "   "], "empty"),
    (["--steps", "0"], "--steps"),
    (["--steps", "-5"], "--steps"),
    (["--guidance", "nan"], "--guidance"),
    (["--guidance", "inf"], "--guidance"),
    (["--n", "0"], "--n"),
    (["--guidance", str(MAX_GUIDANCE + 1)], "--guidance"),  # the contract's limits, checked before a model loads
    (["--prompt", "a red circle " * (MAX_PROMPT_CHARS // 10)], "--prompt"),
    (["--seed", "-1"], "--seed"),
    (["--device", "tpu"], "--device"),
    (["--handoff", "1.5"], "--handoff must be from 0"),
    (["--handoff", "0.5"], "--handoff applies to hybrid models"),  # ddpm drafts nothing
    (["--temperature", "0.5"], "--temperature and --top-k apply to autoregressive"),  # after the load, one line
    (["--truncation", "0.5"], "--truncation applies to GANs"),
])
def test_bad_sample_input_exits_nonzero_with_one_line_and_no_traceback(tmp_path, capsys, args, message):
    base = {"--model": "ddpm", "--prompt": "a red circle", "--out": str(tmp_path / "out")}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    code, _, err = in_process(capsys, "sample", *[x for kv in base.items() for x in kv])
    assert code == 2 and one_line(err).startswith("error:") and message in one_line(err), err


def test_the_script_turns_bad_input_into_status_2_and_one_line(tmp_path):
    """The one real process of the bad-input tests: what a shell sees (the others run main() in-process)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run("sample", "--model", "ddpm", "--prompt", "a red circle", "--out", str(blocker / "out"))
    assert result.returncode == 2, result.stderr  # the README: bad input exits with status 2 and one line
    assert one_line(result.stderr).startswith("error: cannot write to output folder")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--model", "no-such-model"], "error: unknown model 'no-such-model'"),
    (["--model", "gan", "--preset", "biggan"], "unknown --preset 'biggan' for a GAN"),
    (["--model", "gan", "--preset", "small"], "unknown --preset 'small' for a GAN"),
    (["--model", "ddpm", "--preset", "huge"], "unknown --preset 'huge'"),
    (["--model", "vae", "--preset", "small"], "applies to --model ddpm, ldm, dit, flow, dit-t5, gan, gan-layout only"),
])
def test_bad_training_options_are_one_line_errors(tmp_path, capsys, args, message):
    code, _, err = in_process(capsys, "train", *args, "--out", str(tmp_path / "out"))
    assert code == 2 and message in one_line(err)


def test_the_ddpm_checkpoint_ships_with_the_repository():
    assert is_available("ddpm")


def test_sample_is_deterministic_and_image_zero_does_not_depend_on_n(tmp_path, capsys):
    common = ["sample", "--model", "ddpm", "--prompt", "a large red circle in the center", "--seed", "0",
              "--steps", "5"]
    for folder, n in (("a", "6"), ("b", "6")):
        code, _, err = in_process(capsys, *common, "--n", n, "--out", str(tmp_path / folder))
        assert code == 0, err
    result = run(*common, "--n", "1", "--out", str(tmp_path / "c"))  # the script: the same bytes in a new process
    assert result.returncode == 0, result.stderr
    a = sorted((tmp_path / "a").glob("*.png"))
    assert [p.name for p in a] == [f"{i:03d}.png" for i in range(6)]
    assert all(p.read_bytes() == (tmp_path / "b" / p.name).read_bytes() for p in a)
    assert (tmp_path / "c" / "000.png").read_bytes() == a[0].read_bytes()
    assert len({p.read_bytes() for p in a}) == 6  # six different images


def test_list_shows_parameters_and_gflops(capsys):
    code, out, err = in_process(capsys, "list")
    assert code == 0, err
    listed = {}
    for line in out.splitlines():
        found = re.match(r"(\S+?)\s*(ddpm|ldm|dit-layout|dit-t5|dit|flow|gan|ar)\s*(?:v\d+\s+)?text\s+([\d.]+)M\s+([\d.]+|nan)\s+(\d+|n/a)\s",
                         line)
        if found and "ready" in line:
            listed[found.group(1)] = (float(found.group(3)), float(found.group(4)))
    assert set(listed) == {"ddpm", "ldm", "dit", "dit-layout", "flow", "dit-t5", "gan", "gan-layout", "ar"}, out
    parts = sorted({str(json.loads((CHECKPOINT_ROOT / part / "generator.json").read_text())["world_version"])
                    for part in ("ar", "dit")})  # composed: its parts' worlds, joined when they differ
    assert re.search(rf"^ar\+dit\s+hybrid\s+v{re.escape('+'.join(parts))}\s.*ready", out, re.M), out
    # one network call on one 32x32 image (or 8x8x4 latent): measured 0.894 / 0.198 / 0.078 / 0.102 GFLOPs
    gflops = {name: flops for name, (_, flops) in listed.items() if name not in ("gan", "ar")}
    assert all(0.02 < value < 5 for value in gflops.values()), gflops
    assert gflops["ddpm"] > gflops["ldm"] > gflops["dit-layout"] > gflops["dit"]  # pixels > latents; + grounding
    assert gflops["flow"] == gflops["dit"]  # the same network, another objective
    for name, (params, _) in listed.items():  # parameters in millions, text encoder included
        assert 3 < params < 20, (name, params)


# ---------------------------------------------------------------- train: the defaults are the shipped recipes
SHIPPED = sorted(path.parent.name for path in CHECKPOINT_ROOT.glob("*/generator.json"))
FLAG_SET = {"steps", "batch_size", "lr", "cooldown_steps"}  # TrainConfig fields a train flag overrides


def resolve(command: str):
    """(trainable, options, config, out) of a recorded command, dropping a trailing "  (note)"."""
    words = shlex.split(command.split("  (")[0])
    assert words[:4] == ["python", "-m", "models", "train"], command
    return resolve_training(build_parser().parse_args(words[3:]))


def manifest_of(name: str) -> dict:
    return json.loads((CHECKPOINT_ROOT / name / "generator.json").read_text())


def assert_config_is(config, recorded: dict, leave_out: set = frozenset()) -> None:
    ours = json.loads(json.dumps(dataclasses.asdict(config)))
    recorded = {k: v for k, v in recorded.items() if k in ours and k not in leave_out}
    assert {k: ours[k] for k in recorded} == recorded


def assert_options_are_the_shipped_ones(name: str, options: dict, manifest: dict) -> None:
    if name in ("gan", "gan-layout"):
        from models.gan.family import GANConfig, recipe
        from models.trainables import gan_layout_recipe
        built = (gan_layout_recipe if name == "gan-layout" else recipe)(options["preset"])
        assert built == GANConfig.from_dict(manifest["components"]["generator"]["config"])  # older ones omit defaults
        assert (built.arch, built.loss) == (manifest["arch"], manifest["loss"])
    elif name == "ddpm":
        from models.diffusion.unet import UNET_CONFIGS
        assert options["preset"] == manifest["components"]["unet"]["preset"]
        assert json.loads(json.dumps(dataclasses.asdict(UNET_CONFIGS[options["preset"]]))) == \
            manifest["components"]["unet"]["config"]
    elif name in ("ldm", "dit", "dit-t5"):
        from models.diffusion.latent import schedule_of
        from models.diffusion.schedule import NoiseSchedule
        kind = manifest["backbone"]
        assert options["preset"] == manifest["components"][kind]["preset"]
        assert schedule_of(options["preset"]) == NoiseSchedule(**manifest["schedule"])  # older manifests omit defaults
    elif name == "flow":
        from models.diffusion.flow import FlowSchedule
        assert options["preset"] == manifest["components"]["dit"]["preset"]
        assert FlowSchedule() == FlowSchedule(**manifest["schedule"])  # the flow recipe has no schedule flags
    else:
        assert options == {}


@pytest.mark.parametrize("name", SHIPPED)
def test_train_with_only_model_builds_the_recipe_of_the_shipped_checkpoint(name):
    manifest = manifest_of(name)
    # the recorded command still parses and means what was trained: its config is the manifest's, exactly
    _, recorded_options, recorded_config, _ = resolve(manifest["training"]["command"])
    assert_config_is(recorded_config, manifest["train_config"])
    assert_options_are_the_shipped_ones(name, recorded_options, manifest)
    # `train --model NAME` alone: the same network, loss and recipe; only what flags set may differ (a shipped
    # model trained on with --init-from, --steps, --lr, --cooldown records that in its command)
    _, options, config, out = resolve(f"python -m models train --model {name}")
    assert options == recorded_options and out == CHECKPOINT_ROOT / name
    assert_config_is(config, manifest["train_config"], leave_out=FLAG_SET)


def earlier_commands(manifest: dict) -> list[str]:
    return (manifest.get("warm_start") or {}).get("prior_commands", []) + manifest["training"].get("invocations", [])


@pytest.mark.parametrize("name", SHIPPED)
def test_the_earlier_commands_a_manifest_records_still_parse(name):
    manifest = manifest_of(name)
    for command in earlier_commands(manifest):
        _, options, config, _ = resolve(command)
        span = re.search(r"([\d,]+) -> ([\d,]+)", command)  # an invocation notes the steps it ran to
        if span:
            assert config.steps == int(span.group(2).replace(",", "")), command
        if name == "gan":
            assert_options_are_the_shipped_ones(name, options, manifest)


def test_the_ddpm_warm_start_chain_resolves_to_the_presets_it_trained():
    manifest = manifest_of("ddpm")
    chain = manifest["warm_start"]["prior_commands"] + [manifest["training"]["command"]]
    # v1: small, small-pooled, small-v; then three v2 retrains on the v recipe
    assert [resolve(command)[1]["preset"] for command in chain] == ["small", "small-pooled", "small-v", "small-v",
                                                                    "small-v", "small-v"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_manifest_names_the_commit_and_commands_that_reproduce_it(name):
    """The command alone does not reproduce a shipped model (world v1's stream, or an --init-from folder that now
    holds the newer weights): each manifest names the exact commit and the command chain to run there."""
    reproduce = manifest_of(name)["training"]["reproduce"]
    assert re.fullmatch(r"[0-9a-f]{40}", reproduce["commit"]) and reproduce["why_not_today"]
    assert reproduce["commands"] and all(c.startswith("python -m models train --model ") for c in reproduce["commands"])
    git = pathlib.Path(__file__).resolve().parents[1] / ".git"
    if git.exists():  # a clone with history: the commit is in it
        found = subprocess.run(["git", "cat-file", "-e", reproduce["commit"] + "^{commit}"], cwd=git.parent)
        assert found.returncode == 0, reproduce["commit"]


def test_the_recorded_command_spells_out_the_family_defaults_it_relied_on():
    args = build_parser().parse_args(["train", "--model", "gan", "--steps", "10"])
    _, options, _, _ = resolve_training(args)
    command = recorded_command(["train", "--model", "gan", "--steps", "10"], args, options)
    assert command == "python -m models train --model gan --steps 10 --preset dcgan"
    _, again, _, _ = resolve(command)
    assert again == options
    args = build_parser().parse_args(["train", "--model", "vae"])
    assert recorded_command(["train", "--model", "vae"], args, {}) == "python -m models train --model vae"


def test_plan_json_shows_the_complete_layout_of_the_asked_image(capsys):
    asked = ["plan", "put a green plus under an orange triangle", "--json", "--seed", "3", "--index", "1"]
    first = run(*asked)
    code, again, _ = in_process(capsys, *asked)
    assert first.returncode == 0 and code == 0 and first.stdout == again
    layout = json.loads(first.stdout)["layout"]
    assert [o["shape"] for o in layout["objects"]] == ["cross", "triangle"]
    (_, gy0), (_, gy1) = (o["cell"] for o in layout["objects"])
    assert gy0 > gy1  # the cross is below the triangle
    code, _, err = in_process(capsys, "plan", "a red circle to the left of itself")
    assert code == 3 and err.count("\n") == 1


def test_layout_flag_is_for_layout_aware_models_only(tmp_path, capsys):
    code, _, err = in_process(capsys, "sample", "--model", "gan", "--prompt", "a red circle", "--n", "1",
                              "--layout", "none", "--out", str(tmp_path / "x"))
    assert code == 2 and "layout-aware" in err and "Traceback" not in err


def test_train_help_names_every_trainable():
    from models.trainables import TRAINABLES

    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if "--model" in a.option_strings)
    assert [name.strip() for name in train.help.split(";")[0].split("|")] == list(TRAINABLES)
