"""lmutils.course.race: the LSTM-vs-GPT measurement runs and writes what the notebook plots."""

import json

from lmutils.course import race


def test_a_tiny_race_writes_curves_and_final_losses(tmp_path):
    out = tmp_path / "race.json"
    assert race.main(["--tiny", "--seeds", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["command"].endswith("--tiny")
    assert set(result["baselines"]) == {"unigram", "bigram", "trigram", "5-gram"}
    runs = {r["model"]: r for r in result["runs"]}
    assert set(runs) == {"LSTM", "GPT"}
    for r in runs.values():
        assert r["steps"] == 4 and len(r["eval_seconds"]) == len(r["eval_val"]) >= 2
        assert 3.0 < r["val_loss"] < 4.5   # a few steps from the uniform guess, log 65 = 4.17
        assert r["eval_seconds"] == sorted(r["eval_seconds"])


def test_the_committed_measurement_has_three_seeds_of_each_model():
    result = json.loads(race.measured_path().read_text())
    assert not result["command"].endswith("--tiny")
    for name in race.RACE:
        runs = [r for r in result["runs"] if r["model"] == name]
        assert sorted(r["seed"] for r in runs) == [0, 1, 2]
        assert all(r["steps"] == race.RACE[name][0] for r in runs)


def test_the_summary_and_the_scoreboard_row_are_the_seeds_mean():
    from lmutils.course.results import race_rows

    result = json.loads(race.measured_path().read_text())
    lstm = [r["val_loss"] for r in result["runs"] if r["model"] == "LSTM"]
    mean, sd, n = race.summary(result)["LSTM"]["loss"]
    assert n == 3 and abs(mean - sum(lstm) / 3) < 1e-12 and min(lstm) < mean < max(lstm) and 0 < sd < 0.05
    ((nb, name, loss, params, seconds),) = race_rows()
    assert nb == "08" and "3 seeds" in name and loss == mean and params == result["runs"][0]["params"] > 0
    one = race.summary({"runs": result["runs"][:1]})[result["runs"][0]["model"]]
    assert one["loss"] == (result["runs"][0]["val_loss"], 0.0, 1)
