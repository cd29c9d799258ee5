"""lmutils.course.measure: each measurement runs (a few steps) and writes what the notebooks plot, and the committed
measurements in data/measured/ are complete: three seeds each, every learning-rate grid brackets its best rate."""

import json

import pytest

from lmutils.course import measure


def test_a_tiny_optimiser_grid_writes_every_optimiser_at_every_rate(tmp_path):
    out = tmp_path / "o.json"
    assert measure.main(["optimisers", "--tiny", "--seeds", "0", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["command"] == "python -m lmutils.course.measure optimisers --tiny --seeds 0 1"
    for name, spec in measure.OPTIMISERS.items():
        for seed in (0, 1):
            assert sorted(r["learning_rate"] for r in result["runs"] if r["optimiser"] == name and r["seed"] == seed) \
                == sorted(spec[2])


def test_merge_adds_seeds_and_keeps_the_others(tmp_path):
    out = tmp_path / "o.json"
    measure.main(["optimisers", "--tiny", "--seeds", "0", "--out", str(out)])
    measure.main(["optimisers", "--tiny", "--seeds", "2", "--merge", "--out", str(out)])
    result = json.loads(out.read_text())
    assert sorted({r["seed"] for r in result["runs"]}) == [0, 2]
    assert result["command"].endswith("--seeds 0 2")


def test_a_tiny_models_run_scores_every_position(tmp_path):
    out = tmp_path / "m.json"
    assert measure.main(["models", "--tiny", "--seeds", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    runs = {r["model"]: r for r in result["runs"]}
    assert set(runs) == {"MLP", "RNN", "LSTM", "GPT"}
    assert runs["MLP"]["loss_by_position"] is None
    for name in ("RNN", "LSTM", "GPT"):
        assert len(runs[name]["loss_by_position"]) == 128
        assert 2.5 < sum(runs[name]["loss_by_position"]) / 128 < 4.5   # a few steps from log 65 = 4.17
    assert len(result["pretrained"]["loss_by_position"]) == 128
    assert 1.4 < result["pretrained"]["val_loss"] < 1.6                # the shipped 9,000-step GPT: 1.5201


def test_models_remeasures_one_model_and_keeps_the_others(tmp_path):
    out = tmp_path / "m.json"
    assert measure.main(["models", "--tiny", "--seeds", "0", "--out", str(out)]) == 0
    before = {r["model"]: r for r in json.loads(out.read_text())["runs"]}
    assert measure.main(["models", "--tiny", "--seeds", "0", "--models", "MLP", "--merge", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    after = {r["model"]: r for r in result["runs"]}
    assert len(result["runs"]) == 4 and after["GPT"] == before["GPT"] and after["MLP"] != before["MLP"]
    assert result["command"].endswith("; then python -m lmutils.course.measure models --tiny --models MLP --merge "
                                      "--seeds 0")
    assert "pretrained" in result


def committed(name):
    path = measure.measured_path(name)
    if not path.exists():
        pytest.fail(f"{path} is missing: run `python -m lmutils.course.measure {name}`")
    result = json.loads(path.read_text())
    assert "--tiny" not in result["command"] and result["machine"] and result["date"]
    return result


@pytest.mark.parametrize("name", ["optimisers", "models", "lr-grid", "pooling"])
def test_each_committed_measurement_has_three_seeds(name):
    assert sorted({r["seed"] for r in committed(name)["runs"]}) == [0, 1, 2]


def test_the_committed_models_are_each_notebooks_model():
    result = committed("models")
    for r in result["runs"]:
        assert r["notebook"] == {"MLP": "03", "RNN": "04", "LSTM": "05", "GPT": "07"}[r["model"]]
        assert r["loss_by_position"] is None if r["model"] == "MLP" else len(r["loss_by_position"]) == 128


def test_the_committed_runs_train_as_long_as_their_notebooks_do_now():
    """A notebook's steps changed without measuring again leaves its plots showing another training."""
    from lmutils.course.sizes import sizes

    steps = {"RNN": sizes("04", "cpu")["rnn"].train.max_iters, "LSTM": sizes("05", "cpu")["rnn"].train.max_iters,
             "GPT": sizes("07", "cpu")["gpt"].train.max_iters}
    for r in committed("models")["runs"]:
        assert r["model"] == "MLP" or r["steps"] == steps[r["model"]], (r["model"], r["seed"], r["steps"])
    assert {r["steps"] for r in committed("lr-grid")["runs"]} == {steps["LSTM"]}


@pytest.mark.parametrize("name,kind,key", [("optimisers", "optimiser", "loss"), ("lr-grid", "model", "val_loss")])
def test_every_grid_brackets_its_best_rate(name, kind, key):
    """The best learning rate (mean over seeds) is never at the edge of its grid: the optimum was found."""
    runs = committed(name)["runs"]
    for model in {r[kind] for r in runs}:
        rates = sorted({r["learning_rate"] for r in runs if r[kind] == model})
        mean = {lr: sum(r[key] for r in runs if r[kind] == model and r["learning_rate"] == lr) for lr in rates}
        assert rates[0] < min(mean, key=mean.get) < rates[-1], (model, mean)


def test_a_tiny_sft_measurement_scores_every_task(tmp_path):
    out = tmp_path / "sft.json"
    assert measure.main(["sft", "--tiny", "--seeds", "0", "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["learning_rate"], r["replay"]) for r in runs] == measure.SFT_VARIANTS[:2]
    for run in runs:
        assert 0 <= run["speaker"] <= 1 and 0 <= run["real_or_shuffled"] <= 1
        assert 1.0 < run["continue (nats per character)"] < 3.0   # 4 steps from the pre-trained GPT


def test_models_is_refused_for_another_measurement(capsys):
    with pytest.raises(SystemExit):
        measure.main(["sft", "--tiny", "--models", "GPT"])
    assert "--models chooses among the models of `models`" in capsys.readouterr().err
