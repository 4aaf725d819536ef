"""The demo app served for real and called through gradio_client, as a script user would."""
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
