"""Hostile runs from the command line: two writers on one folder, prompt sets that lie or overflow, a run.json
that is not a run's record. Each gets one line, nothing is made that should not be, and a rerun works."""
from __future__ import annotations

import json

import pytest

from hostile.run_folders import cli_args, complete, holder_of, run_tiny, tiny_options


# ---------------------------------------------------------------- 10: one writer per run folder
def test_store_a_second_run_into_a_held_folder_is_refused_with_the_holders_pid(tmp_path, store_tiny):
    from evaluation.__main__ import main
    from evaluation.store import StoreError

    out = tmp_path / "run"
    holder = holder_of(out)
    try:
        busy = out / "images" / ".p0000-s00-seed0.png.999.tmp"  # the first run's image, half written
        busy.write_bytes(b"partial")
        with pytest.raises(StoreError) as refused:
            run_tiny(out)
        assert str(refused.value) == (f"{out} is in use by PID {holder.pid} (another evaluation run); wait for it "
                                      f"or choose another --out")
        with pytest.raises(SystemExit, match=rf"^error: .* in use by PID {holder.pid} "):
            main(cli_args(out))
        assert busy.exists() and not (out / "rows.jsonl").exists() and store_tiny == []  # nothing touched
    finally:
        holder.kill()  # SIGKILL: the kernel drops its flock with it
        holder.wait()
    assert run_tiny(out)["generated"] == 2 and not busy.exists()
    assert run_tiny(out)["generated"] == 0  # the same process, again: its own finished run does not block it
    complete(out, 2)


def test_store_the_other_ranks_of_a_run_share_the_folder_its_rank_zero_holds(tmp_path, store_tiny):
    import threading

    from evaluation.store import StoreError
    from evaluation.runs.sweep import _open_store

    out = tmp_path / "run"
    holder = holder_of(out)  # plays rank 0 of a multi-process run
    try:
        store, _ = _open_store(tiny_options(out), 1)  # rank 1 of the same run: no lock of its own
        assert store.rows_path.name == "rows.1.jsonl"
        with pytest.raises(StoreError, match=f"in use by PID {holder.pid}"):
            _open_store(tiny_options(out), 0)
    finally:
        holder.kill()
        holder.wait()
    store, _ = _open_store(tiny_options(out), 0)
    errors = []
    thread = threading.Thread(target=lambda: catch(errors, lambda: _open_store(tiny_options(out), 0)))
    thread.start()
    thread.join()  # another thread of this process is another run, and is refused too
    assert len(errors) == 1 and "in use by PID" in str(errors[0]) and "\n" not in str(errors[0])
    del store
    assert run_tiny(out)["generated"] == 2


def catch(errors: list, call) -> None:
    try:
        call()
    except ValueError as error:
        errors.append(error)



# ---------------------------------------------------------------- 14, 15: prompt sets
def test_store_a_csv_prompt_set_with_a_byte_order_mark_loads(tmp_path, store_tiny):
    from evaluation.prompts import load_prompts

    table = tmp_path / "mine.csv"
    table.write_text("\ufeffPrompt,Category\na red circle,World\na photo of a cat,Animals\n", encoding="utf-8")
    text = tmp_path / "mine.txt"
    text.write_text("\ufeffa red circle\n", encoding="utf-8")
    assert [(p.prompt, p.category, p.judged) for p in load_prompts(str(table))] == [
        ("a red circle", "World", True), ("a photo of a cat", "Animals", False)]
    assert [(p.prompt, p.judged) for p in load_prompts(str(text))] == [("a red circle", True)]
    assert run_tiny(tmp_path / "run", prompts=str(table))["generated"] == 2
    complete(tmp_path / "run", 2)


@pytest.mark.parametrize("size, answer", [(200_000, r":3: unreadable row \(field larger than field limit"),
                                                 (100_000, ":3: the prompt is 100000 characters long; shorten it to "
                                                           "at most 500")], ids=["200kB", "100kB"])
def test_store_a_csv_prompt_set_with_a_huge_field_is_one_line(tmp_path, store_tiny, size, answer):
    from evaluation.__main__ import main
    from evaluation.prompts import PromptSetError, load_prompts

    table = tmp_path / "big.csv"
    table.write_text(f"prompt,category\na red circle,x\n\"{'a' * size}\",x\na blue square,x\n")
    with pytest.raises(PromptSetError) as refused:
        load_prompts(str(table))
    assert str(refused.value).startswith(f"{table}:3: ") and "\n" not in str(refused.value)
    with pytest.raises(SystemExit, match=f"^error: .*big.csv{answer}"):
        main(cli_args(tmp_path / "run", "--prompts", str(table)))
    assert store_tiny == []  # refused before any model loaded
    table.write_text("prompt,category\na red circle,x\na blue square,x\n")  # fixed: it runs
    assert run_tiny(tmp_path / "run", prompts=str(table))["generated"] == 2


@pytest.mark.parametrize("name", ["long.txt", "long.csv", "long.tsv", "long.jsonl"])
def test_store_a_prompt_over_the_limit_is_refused_before_any_model_loads(tmp_path, store_tiny, name):
    from evaluation.__main__ import main
    from evaluation.prompts import PromptSetError, load_prompts
    from models.contract import MAX_PROMPT_CHARS

    def write(long: str) -> None:
        prompts = ["a red circle", "a blue square", long]
        body = {"txt": "\n".join(prompts), "csv": "prompt\n" + "\n".join(prompts),
                "tsv": "prompt\n" + "\n".join(prompts),
                "jsonl": "\n".join(json.dumps({"prompt": p}) for p in prompts[1:])}[name.split(".")[1]]
        path.write_text(body + "\n")

    path = tmp_path / name
    write("a red circle " * 91 + "and a blue cross")  # 1,199 characters
    line = {"txt": 3, "csv": 4, "tsv": 4, "jsonl": 2}[name.split(".")[1]]  # a table's header is line 1
    expected = f"{path}:{line}: the prompt is 1199 characters long; shorten it to at most {MAX_PROMPT_CHARS}"
    with pytest.raises(PromptSetError) as refused:
        load_prompts(str(path))
    assert str(refused.value) == expected
    with pytest.raises(SystemExit, match="^error: .*the prompt is 1199 characters long"):
        main(cli_args(tmp_path / "run", "--prompts", str(path)))
    assert store_tiny == [] and not (tmp_path / "run").exists()  # refused before any model loaded or folder made
    write("x" * MAX_PROMPT_CHARS)  # at the limit: fine
    assert len(load_prompts(str(path))[-1].prompt) == MAX_PROMPT_CHARS
    assert run_tiny(tmp_path / "run", prompts=str(path))["generated"] == len(load_prompts(str(path)))


@pytest.mark.parametrize("name, blank, line", [("blank.csv", '"  \t",x', 3), ("blank.tsv", '"\n\n"\tx', 3),
                                                      ("blank.jsonl", '{"prompt": " "}', 2)])
def test_store_an_empty_prompt_is_refused_at_load_with_file_and_line(tmp_path, store_tiny, name, blank, line):
    from evaluation.prompts import PromptSetError, load_prompts

    path = tmp_path / name
    good = {"csv": "a blue square,x", "tsv": "a blue square\tx", "jsonl": '{"prompt": "a blue square"}'}[name[6:]]
    head = {"csv": "prompt,category\na red circle,x\n", "tsv": "prompt\tcategory\na red circle\tx\n",
            "jsonl": '{"prompt": "a red circle"}\n'}[name[6:]]
    path.write_text(f"{head}{blank}\n")
    answer = f"^{path}:{line}: (empty prompt|expected an object with a non-empty)"
    with pytest.raises(PromptSetError, match=answer):
        load_prompts(str(path))
    path.write_text(f"{head}{good}\n")  # fixed: it runs
    assert run_tiny(tmp_path / "run", prompts=str(path))["generated"] == 2


# ---------------------------------------------------------------- 18: run.json that is not a run's record
@pytest.mark.parametrize("content", [b"[]", b"not json", b'{"checkpoints": []}', b"\xff\xfe{}", b"null",
                                            pytest.param(b"[" * 100_000, id="nested-past-the-recursion-limit")])
def test_store_a_run_json_that_is_not_an_object_is_one_line(tmp_path, store_tiny, content):
    from evaluation.__main__ import main
    from evaluation.store import StoreError

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_bytes(content)
    answer = f"{out / 'run.json'} is not a run record (a JSON object written by `python -m evaluation run`): " \
             f"restore or delete it, or choose another --out"
    with pytest.raises(StoreError) as refused:
        run_tiny(out)
    assert str(refused.value) == answer and store_tiny == []
    for argv in (cli_args(out), ["report", str(out)]):
        with pytest.raises(SystemExit) as failed:
            main(argv)
        assert failed.value.code == f"error: {answer}"
    assert (out / "run.json").read_bytes() == content  # left as it was, for the user to look at
    (out / "run.json").unlink()
    assert run_tiny(out)["generated"] == 2
    main(["report", str(out)])


