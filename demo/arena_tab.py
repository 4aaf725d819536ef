"""The Arena tab: a prompt, two anonymous images, four vote buttons, the names, the leaderboard.

The handlers are in demo/arena_handlers.py. Scripts get three endpoints: arena_battle(prompt, seed) -> (battle id,
image A, image B), arena_vote(battle id, vote) -> the names revealed, leaderboard() -> the ratings table.
"""
import gradio as gr

from demo import arena_handlers
from demo.handlers import DISPLAY, MAX_SEED
from evaluation.arena.votes import VOTES
from models.contract import MAX_PROMPT_CHARS

BUTTONS = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both bad"}
VOTING = {"concurrency_id": "arena-votes", "concurrency_limit": 8}  # votes are quick writes: several at once
INTRO = ("Two generators drawn at random answer one prompt with one seed; their names stay hidden until you "
         "vote. Where the prompt is a world caption the judge (the world detector) checks both images too, and "
         "the leaderboard shows its ranking beside yours.")


def _battle_ui(arena_state: arena_handlers.Arena, generation: dict, gpu) -> dict:
    """The battle's components and the events that draw it; returns the components the votes need."""
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", value="a green triangle to the left of a yellow circle",
                            max_length=MAX_PROMPT_CHARS, scale=4, elem_id="arena-prompt")
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED, scale=1)
        draw = gr.Button("Draw a prompt", scale=1, elem_id="arena-draw")
        start = gr.Button("New battle", variant="primary", scale=1, elem_id="arena-battle")
    battle_id = gr.Textbox(visible=False)
    with gr.Row():
        image_a = gr.Image(label="A", type="pil", format="png", interactive=False, height=DISPLAY, width=DISPLAY,
                           elem_id="arena-a")
        image_b = gr.Image(label="B", type="pil", format="png", interactive=False, height=DISPLAY, width=DISPLAY,
                           elem_id="arena-b")
    with gr.Row():
        buttons = {v: gr.Button(BUTTONS[v], interactive=False, elem_id=f"arena-vote-{v}") for v in VOTES}
    revealed = gr.Markdown("Draw a battle, look at both images, vote.", elem_id="arena-reveal")

    def hide():  # the last battle's names and images go before the next one is drawn
        return [gr.Image(value=None, label="A"), gr.Image(value=None, label="B"), "Drawing a battle…",
                *[gr.Button(interactive=False)] * len(buttons)]

    def arena_battle(prompt: str, seed: int):
        yield from arena_handlers.battle(arena_state, prompt, seed)

    if gpu is not None:  # ZeroGPU attaches a GPU only inside functions it decorates
        arena_battle = gpu(arena_battle)

    def ready():
        return ["Which image shows the prompt better?", *[gr.Button(interactive=True)] * len(buttons)]

    draw.click(arena_handlers.draw_prompt, None, [prompt, seed], api_visibility="private")
    start.click(hide, None, [image_a, image_b, revealed, *buttons.values()], api_visibility="private").then(
        arena_battle, [prompt, seed], [battle_id, image_a, image_b], api_name="arena_battle", **generation).success(
        ready, None, [revealed, *buttons.values()], api_visibility="private")
    return {"battle_id": battle_id, "a": image_a, "b": image_b, "buttons": buttons, "revealed": revealed}


def _leaderboard_ui(arena_state: arena_handlers.Arena):
    gr.Markdown("## Leaderboard")
    table = gr.Dataframe(arena_handlers.board_table(arena_state), interactive=False, elem_id="arena-leaderboard")
    details = gr.Markdown(arena_handlers.board_markdown(arena_state), elem_id="arena-details")
    refresh = gr.Button("Refresh the leaderboard", scale=0)

    def ranking():
        return arena_handlers.board_table(arena_state)

    refresh.click(ranking, None, table, api_name="leaderboard", **VOTING).then(
        lambda: arena_handlers.board_markdown(arena_state), None, details, api_visibility="private")
    return table, details


def add_tab(arena_state: arena_handlers.Arena, generation: dict, gpu=None) -> None:
    """The Arena's components and events inside an open gr.Tab; `generation`: the app's shared generation queue
    settings; gpu: a decorator for the function that generates (spaces.GPU), or None."""
    with gr.Column(elem_id="arena-play"):
        gr.Markdown(INTRO)
        parts = _battle_ui(arena_state, generation, gpu)
    with gr.Column(elem_id="arena-board"):
        table, details = _leaderboard_ui(arena_state)

    def voter(choice: str):
        def ui_vote(battle_id: str, request: gr.Request):
            row = arena_handlers.vote(arena_state, battle_id, choice, arena_handlers.session_hash(request))
            return [gr.Image(label=f"A: {row['model_a']}"), gr.Image(label=f"B: {row['model_b']}"),
                    arena_handlers.reveal(row), *[gr.Button(interactive=False)] * len(VOTES),
                    arena_handlers.board_table(arena_state), arena_handlers.board_markdown(arena_state)]
        return ui_vote

    outputs = [parts["a"], parts["b"], parts["revealed"], *parts["buttons"].values(), table, details]
    for choice, button in parts["buttons"].items():
        button.click(voter(choice), parts["battle_id"], outputs, api_visibility="private", **VOTING)

    def arena_vote(battle_id: str, vote: str, request: gr.Request) -> str:
        row = arena_handlers.vote(arena_state, battle_id, vote, arena_handlers.session_hash(request))
        return arena_handlers.reveal(row)

    # for scripts (gradio_client): no UI of its own
    vote_box, names = gr.Textbox(visible=False), gr.Markdown(visible=False)
    gr.Button(visible=False).click(arena_vote, [parts["battle_id"], vote_box], names, api_name="arena_vote", **VOTING)
