"""The demo app served for real and called through gradio_client, as a script user would."""
import re

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
    seed, plan, image = client.predict("a large red circle in the center", 5, False, 4, 3.0, "ddim", True,
                                       api_name="/compare")
    assert seed == 5
    assert image["value"] is not None and image["label"].startswith("ddpm")


def test_bad_input_is_an_error_and_the_next_good_call_works(client):
    with pytest.raises(Exception, match="prompt"):
        client.predict("   ", 0, False, 4, 3.0, "ddim", True, api_name="/compare")
    with pytest.raises(Exception, match="minimum"):  # the slider rejects it before our own check
        client.predict("a red circle", 0, False, 0, 3.0, "ddim", True, api_name="/compare")
    seed, plan, image = client.predict("a red circle", 1, False, 4, 3.0, "ddim", True, api_name="/compare")
    assert seed == 1 and image["value"] is not None


def test_planner_rewrites_free_text_and_the_switch_turns_it_off(client):
    _, plan, image = client.predict("draw a crimson ball up in the left corner", 0, False, 2, 3.0, "ddim", True,
                                    api_name="/compare")
    assert "a red circle in the top left" in plan and image["value"] is not None
    _, plan, image = client.predict("an astronaut riding a horse", 0, False, 2, 3.0, "ddim", True, api_name="/compare")
    assert "Outside the Shapes world" in plan and image["value"] is None  # no random picture
    _, plan, image = client.predict("an astronaut riding a horse", 0, False, 2, 3.0, "ddim", False, api_name="/compare")
    assert "as typed" in plan and image["value"] is not None


def test_compare_streams_previews_before_the_final_image(client):
    job = client.submit("a large red circle in the center", 2, False, 25, 3.0, "ddim", True, api_name="/compare")
    final = job.result()
    updates = job.outputs()
    assert len(updates) >= 3  # previews while denoising, then the final image
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


def test_a_full_queue_answers_busy_instead_of_hanging():
    app = build(["ddpm"], queue_size=1)
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        jobs = [client.submit("a red circle", i, False, 40, 3.0, "ddim", True, api_name="/compare") for i in range(4)]
        errors = []
        for job in jobs:
            try:
                job.result(timeout=120)
            except Exception as error:  # the queue's refusal
                errors.append(str(error))
        assert errors and all("full" in e.lower() or "busy" in e.lower() for e in errors), errors
    finally:
        app.close()
