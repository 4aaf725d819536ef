"""The demo app served for real and called through gradio_client, as a script user would."""
import functools
import re
import threading
import time

import pytest
from gradio_client import Client

from demo.app import build


@pytest.fixture(scope="module")
def client():
    app = build(["ddpm"])
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        yield Client(app.local_url, verbose=False)
    finally:
        app.close()


def test_compare_returns_one_labelled_image_per_generator_and_the_seed_used(client):
    seed, plan, image, _ = client.predict("a large red circle in the center", 5, False, 4, 3.0, "ddim", True,
                                       api_name="/compare")
    assert seed == 5
    assert image["value"] is not None and image["label"].startswith("ddpm")


def test_bad_input_is_an_error_and_the_next_good_call_works(client):
    with pytest.raises(Exception, match="prompt"):
        client.predict("   ", 0, False, 4, 3.0, "ddim", True, api_name="/compare")
    with pytest.raises(Exception, match="Steps must be a whole number from 1 to 1000"):  # the contract's limits
        client.predict("a red circle", 0, False, 0, 3.0, "ddim", True, api_name="/compare")
    seed, plan, image, _ = client.predict("a red circle", 1, False, 4, 3.0, "ddim", True, api_name="/compare")
    assert seed == 1 and image["value"] is not None


def test_planner_rewrites_free_text_and_the_switch_turns_it_off(client):
    _, plan, image, _ = client.predict("draw a crimson ball up in the left corner", 0, False, 2, 3.0, "ddim", True,
                                    api_name="/compare")
    assert "a red circle in the top left" in plan and image["value"] is not None
    _, plan, image, _ = client.predict("an astronaut riding a horse", 0, False, 2, 3.0, "ddim", True, api_name="/compare")
    assert "Outside the Shapes world" in plan and image["value"] is None  # no random picture
    _, plan, image, _ = client.predict("an astronaut riding a horse", 0, False, 2, 3.0, "ddim", False, api_name="/compare")
    assert "as typed" in plan and image["value"] is not None


def test_compare_streams_previews_before_the_final_image(client, monkeypatch):
    # no preview throttle, so the count follows on_step (one preview per denoising step), not the host's speed
    monkeypatch.setattr(handlers, "stream", functools.partial(handlers.stream, every=0.0))
    job = client.submit("a large red circle in the center", 2, False, 25, 3.0, "ddim", True, api_name="/compare")
    final = job.result()
    updates = [u for u in job.outputs() if not isinstance(u[0], dict)]  # not a pulse (gr.skip) on a slow step
    shown = [u for u in updates if u[2]["value"] is not None]
    assert len(shown) == 25 + 2  # a preview per step, the finished image, then that image with its latency
    assert final[2]["value"] is not None and re.search(r"· \d+\.\d\d s$", final[2]["label"])  # its latency


def test_sweep_returns_one_image_per_guidance_scale_and_rejects_bad_scales(client):
    row = client.predict("ddpm", "a small blue square in the top left", 0, 3, "0, 1, 3", "ddim", True,
                         api_name="/sweep")
    assert [item["caption"] for item in row] == ["guidance 0", "guidance 1", "guidance 3"]
    with pytest.raises(Exception, match="guidance scale"):
        client.predict("ddpm", "a red circle", 0, 3, "1, nan", "ddim", True, api_name="/sweep")


def test_generate_endpoint_gives_one_image(client):
    image = client.predict("ddpm", "a red circle", 0, 3, 3.0, "ddim", True, api_name="/generate")
    assert image is not None


def test_two_users_at_once_get_their_own_results(client):
    other = Client(client.src, verbose=False)
    jobs = [c.submit("a red circle", seed, False, 3, 3.0, "ddim", True, api_name="/compare")
            for c, seed in ((client, 11), (other, 12))]
    assert [job.result()[0] for job in jobs] == [11, 12]


def test_a_full_queue_answers_busy_instead_of_hanging(session, tiny_generator):
    busy, release = threading.Event(), threading.Event()

    class Held:  # holds the running request until the queue has answered, however fast the host generates
        info = tiny_generator.info

        def generate(self, *args, **kwargs):
            busy.set()
            assert release.wait(timeout=120)
            return tiny_generator.generate(*args, **kwargs)

    app = build(session=DemoSession({"tiny": Held()}, session.planner), queue_size=1)
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        running = client.submit("a red circle", 0, False, 2, 3.0, "ddim", True, api_name="/compare")
        assert busy.wait(timeout=120)  # it is out of the queue, generating
        jobs = [client.submit("a red circle", i, False, 2, 3.0, "ddim", True, api_name="/compare") for i in (1, 2, 3)]
        deadline = time.monotonic() + 120  # a condition waited on, not a clock the test depends on
        while sum(job.done() for job in jobs) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # one waits in the queue of 1; the other two must have been refused already
        release.set()
        errors = []
        for job in jobs:
            try:
                job.result(timeout=120)
            except Exception as error:  # the queue's refusal
                errors.append(str(error))
        assert len(errors) == 2 and all("full" in e.lower() or "busy" in e.lower() for e in errors), errors
        assert running.result(timeout=120)[0] == 0
    finally:
        release.set()
        app.close()


# --- the handlers alone, on a session of the conftest's tiny diffusion model and the shipped GAN: no server ---

import inspect  # noqa: E402

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from demo import handlers  # noqa: E402
from demo.app import bind  # noqa: E402
from demo.handlers import DemoSession, open_session  # noqa: E402
from models.contract import MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_STEPS, GenerationError  # noqa: E402
from models.registry import load  # noqa: E402
from models.text.planners import make_planner  # noqa: E402


@pytest.fixture(scope="module")
def session(tiny_generator):
    return DemoSession({"tiny": tiny_generator, "gan": load("gan")}, make_planner("rules"))


def final(updates):
    *_, last = updates
    return last


def test_compare_handler_streams_then_labels_each_image_with_its_latency(session):
    updates = list(handlers.compare(session, "a large red circle in the center", 7, False, 4, 3.0, "ddim", True))
    seed, plan, tiny, gan, layout = final(updates)
    assert seed == 7 and "a large red circle in the center" in plan
    assert len(updates) >= 2  # at least one preview or image before the last update
    for image, name in ((tiny, "tiny"), (gan, "gan")):
        assert image.value is not None
        assert image.label.startswith(name) and re.search(r"· \d+\.\d\d s$", image.label)
    assert layout is None  # no layout-aware generator in this session


def test_compare_handler_draws_the_layout_a_layout_aware_generator_used(session, tiny_layout_generator):
    aware = DemoSession({"tiny": session.generators["tiny"], "tiny-layout": tiny_layout_generator}, session.planner)
    *_, layout = final(handlers.compare(aware, "draw two crimson balls", 3, False, 2, 3.0, "ddim", True))
    assert layout is not None and layout.size == (256, 256)
    colors = {color for _, color in layout.getcolors(maxcolors=1 << 16)}
    assert (220, 40, 40) in colors  # the boxes are drawn in the objects' color


def test_a_v2_prompt_is_planned_drawn_with_every_box_and_judged(session, tiny_layout_generator):
    prompt = "a red circle, a blue square and a green triangle"  # what visitors type first
    aware = DemoSession({"tiny-layout": tiny_layout_generator}, session.planner)
    _, plan, image, layout = final(handlers.compare(aware, prompt, 3, False, 2, 3.0, "ddim", True))
    assert prompt in plan and image.value is not None
    colors = {color for _, color in layout.getcolors(maxcolors=1 << 16)}
    assert {(220, 40, 40), (40, 80, 220), (40, 170, 60)} <= colors  # one box per object, in its color
    shown = tiny_layout_generator.generate([prompt], seed=3, steps=2)[0]  # what the browser hands back
    truth, line = handlers.judged(aware, prompt, 3, True, shown)
    assert truth is not None and line.startswith(("✓", "✗")) and "objects" in line


def test_compare_handler_outside_the_world_and_with_rewriting_off(session):
    _, plan, tiny, gan, _ = final(handlers.compare(session, "an astronaut riding a horse", 0, False, 2, 3.0, "ddim", True))
    assert "Outside the Shapes world" in plan
    assert tiny.value is None and tiny.label == "tiny: outside the Shapes world"
    _, plan, tiny, _, _ = final(handlers.compare(session, "an astronaut riding a horse", 0, False, 2, 3.0, "ddim", False))
    assert "as typed" in plan and tiny.value is not None


def test_compare_handler_random_seed_and_a_generator_that_refuses(session, tiny_generator):
    class Refusing:
        info = tiny_generator.info

        def generate(self, *args, **kwargs):
            raise GenerationError("no ImageNet class name in the prompt")

    refusing = DemoSession({"tiny": tiny_generator, "refusing": Refusing()}, session.planner)
    seed, _, tiny, refused, _ = final(handlers.compare(refusing, "a red circle", 0, True, 2, 3.0, "ddim", True))
    assert 0 <= seed <= handlers.MAX_SEED and tiny.value is not None
    assert refused.value is None and refused.label == "tiny: no ImageNet class name in the prompt"


def test_validation_uses_the_contract_limits_not_the_sliders(session):
    handlers.validate("a red circle", MAX_STEPS, MAX_GUIDANCE)  # beyond the sliders (200, 15), within the contract
    for prompt, steps, guidance, message in (("  ", 4, 3.0, "prompt"), ("x" * (MAX_PROMPT_CHARS + 1), 4, 3.0, "limit"),
                                             ("a red circle", MAX_STEPS + 1, 3.0, "Steps"),
                                             ("a red circle", 2.5, 3.0, "Steps"),
                                             ("a red circle", 4, MAX_GUIDANCE + 1, "Guidance"),
                                             ("a red circle", 4, float("nan"), "Guidance")):
        with pytest.raises(gr.Error, match=message):
            handlers.validate(prompt, steps, guidance)
    with pytest.raises(gr.Error, match="prompt"):
        next(handlers.compare(session, "", 0, False, 4, 3.0, "ddim", True))
    assert handlers.parse_scales("0; 1, 50") == [0.0, 1.0, MAX_GUIDANCE]
    for bad in ("1, nan", "51", "a, b", "", ",".join("1" * 9)):
        with pytest.raises(gr.Error, match="(?i)guidance scale"):
            handlers.parse_scales(bad)


def test_generating_handlers_start_no_work_before_their_first_update(session, tiny_generator):
    """Gradio keeps a generator to close on cancel only after its first update: no work may start before it."""
    calls = []

    class Spy:
        info = tiny_generator.info

        def generate(self, *args, **kwargs):
            calls.append(1)
            return tiny_generator.generate(*args, **kwargs)

    def workers():
        return {t for t in threading.enumerate() if t.name == "genbench-generate"}

    spy = DemoSession({"tiny": Spy()}, session.planner)
    for updates in (handlers.compare(spy, "a red circle", 0, False, 2, 3.0, "ddim", True),
                    handlers.sweep(spy, "tiny", "a red circle", 0, 2, "1", "ddim", True),
                    handlers.generate_one(spy, "tiny", "a red circle", 0, 2, 3.0, "ddim", True)):
        before = workers()
        next(updates)
        # no sleep: a worker started before the first update is alive once start() returns, so it would show here
        assert calls == [] and workers() <= before
        updates.close()


def test_stream_pulses_while_nothing_shows_and_stops_its_worker_when_closed():
    taken, raised = [], []
    stepped, resume, ended = threading.Event(), threading.Event(), threading.Event()

    class Quiet:  # like a hub pipeline: progress, but no preview of the image being made
        def generate(self, prompts, seed, steps=None, guidance_scale=None, sampler=None, on_step=None):
            try:
                for step in range(100):
                    on_step(step + 1, 100, [])
                    taken.append(step)
                    stepped.set()
                    assert resume.wait(timeout=60)  # each step after the first waits for the test, not a clock
                return [Image.new("RGB", (32, 32))]
            except BaseException as error:
                raised.append(error)
                raise
            finally:
                ended.set()

    updates = handlers.stream(Quiet(), "x", 0, 100, 3.0, None, pulse=0.1)
    assert next(updates) is None  # a pulse: the worker is held mid-run, the caller gets control back to close it
    assert stepped.wait(timeout=60)
    updates.close()  # what a cancelled request does
    resume.set()  # let the worker run on: its next step must stop it
    assert ended.wait(timeout=60)
    assert taken == [0] and [type(e) for e in raised] == [handlers.Cancelled]


def test_sweep_handler_one_image_per_scale_and_its_errors(session):
    rows = [u for u in handlers.sweep(session, "tiny", "a small blue square in the top left", 0, 2, "0, 3", "dpm++",
                                      True) if isinstance(u, list)]
    assert [len(r) for r in rows] == [1, 2]  # the row grows a scale at a time
    row = rows[-1]
    assert [caption for _, caption in row] == ["guidance 0", "guidance 3"]
    assert all(image.size == (handlers.DISPLAY, handlers.DISPLAY) for image, _ in row)
    for model, prompt, message in (("gan", "a red circle", "Guidance does not apply to gan"),
                                   ("nope", "a red circle", "Unknown model 'nope'; loaded: tiny, gan"),
                                   ("tiny", "a tabby cat", "Outside the Shapes world")):
        with pytest.raises(gr.Error, match=message):
            final(handlers.sweep(session, model, prompt, 0, 2, "1", "ddim", True))


def test_generate_one_handler_gives_the_generators_own_image(session):
    image = final(handlers.generate_one(session, "tiny", "a red circle", 0, 2, 3.0, "unknown-sampler", True))
    assert isinstance(image, Image.Image) and image.size == (32, 32)  # a sampler it lacks: its own default
    gan = final(handlers.generate_one(session, "gan", "a red circle", 0, 1, 0.0, "ddim", True))
    assert isinstance(gan, Image.Image)
    with pytest.raises(gr.Error, match="Unknown model"):
        final(handlers.generate_one(session, "nope", "a red circle", 0, 2, 3.0, "ddim", True))
    with pytest.raises(gr.Error, match="Outside the Shapes world"):
        final(handlers.generate_one(session, "tiny", "a tabby cat", 0, 2, 3.0, "ddim", True))


def test_bound_handlers_keep_name_signature_and_streaming(session):
    compare, sweep = bind(handlers.compare, session), bind(handlers.sweep, session)
    assert compare.__name__ == "compare" and inspect.isgeneratorfunction(compare)
    # every generating handler streams, so a cancelled request can stop it between two updates
    assert list(inspect.signature(compare).parameters)[0] == "prompt" and inspect.isgeneratorfunction(sweep)
    assert final(sweep("tiny", "a red circle", 0, 2, "1", "ddim"))[0][1] == "guidance 1"
    app = __import__("demo.app", fromlist=["build"]).build(session=session)
    assert {"/compare", "/generate", "/sweep"} <= set(app.get_api_info()["named_endpoints"])


def test_open_session_errors_are_one_line_exits():
    with pytest.raises(SystemExit, match="error: unknown planner 'oracle'"):
        open_session(["gan"], planner="oracle")
    with pytest.raises(SystemExit, match="error: .*nope"):
        open_session(["nope"])
    assert list(open_session(["gan"], planner="none").generators) == ["gan"]


def test_python_m_demo_time_compare_and_a_bad_device(capsys):
    from demo.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--device", "gpu0"])
    assert exit_.value.code == 2 and capsys.readouterr().err.strip().count("\n") == 0
    main(["--time-compare", "--models", "gan", "--repeats", "2"])
    out = capsys.readouterr().out
    assert re.search(r"demo compare, default settings, 1 generators \(gan\), device cpu: \[[\d.]+, [\d.]+\] s per call",
                     out), out
