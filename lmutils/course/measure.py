"""Measurements too slow for a notebook's 90 s, made once and committed, so that the notebooks plot what was measured.

    python -m lmutils.course.measure models        # 03's MLP, 04's RNN, 05's LSTM, 07's GPT: 3 seeds, loss by position
    python -m lmutils.course.measure lr-grid       # 05: RNN and LSTM over learning rates, 3 seeds each
    python -m lmutils.course.measure transformer   # 07: the seed's TransformerModel at the GPT's budget
    python -m lmutils.course.measure optimisers    # 02: SGD, momentum, Adam, AdamW on XOR over learning rates
    python -m lmutils.course.measure overfit       # 09: long runs on Prospero: over-fitting, early stopping, dropout
    python -m lmutils.course.measure pooling       # 09: the classifier with mean or last pooling, three splits
    python -m lmutils.course.measure sft --seeds 0 # 12: SFT at two learning rates, with and without replay
    python -m lmutils.course.measure NAME --tiny --out /tmp/x.json   # a few steps each: checks that it runs

Each writes data/measured/NAME.json with the command, the machine and the date, after each seed where seeds are
independent (--merge adds seeds to a file). Every model trains as its notebook trains it (the notebook's sizes and
recipe; seed 0 is the notebook's run, on one CPU thread instead of the notebooks' two, so its last digits differ
within the notebook's ±). Losses do not depend on how busy the machine is; seconds do (they are kept, not quoted).
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..chat import load_instructions, sft, sft_example, with_replay
from ..checkpoint import load_model
from ..data import data_dir, encode_corpus, load_corpus, windows
from ..finetune import (GPTClassifier, add_lora, freeze, pad_batch, plain, predict, real_or_shuffled, speeches,
                        train_classifier)
from ..mlp import MLPLM, context_windows
from ..models import (GPT, GPTConfig, LSTMConfig, LSTMLM, RNNConfig, RNNLM, TransformerConfig, TransformerModel,
                      num_params)
from ..ngram import baselines
from .assistant import make_sft_model, scores
from .sizes import sizes
from ..progress import Reporter
from ..toy import xor_blobs
from ..train import TrainConfig, evaluate, fit

CPU = torch.device("cpu")


def measured_path(name: str) -> Path:
    return Path(data_dir()) / "measured" / f"{name}.json"


def load(name: str) -> dict:
    """A committed measurement, as the notebooks read it."""
    return json.loads(measured_path(name).read_text())


@torch.no_grad()
def loss_by_position(model, ids: torch.Tensor, block_size: int = 128) -> list[float]:
    """Mean validation loss at each position 1 … block_size of non-overlapping windows, each read from scratch
    (a fresh state, no earlier context): position t has t characters of context."""
    model.eval()
    x, y = windows(ids, block_size)
    total = torch.zeros(block_size, dtype=torch.float64)
    for i in range(0, len(x), 64):
        logits = model(x[i:i + 64])
        total += F.cross_entropy(logits.transpose(1, 2), y[i:i + 64], reduction="none").double().sum(0)
    return (total / len(x)).tolist()


# --- the notebooks' language models, each as its notebook trains it --------------------------------------

def train_mlp_lm(train_ids, val_ids, seed: int, tiny: bool):
    """Notebook 03's MLP over 4 characters: AdamW 5e-3 with a cosine decay to 0, 6,000 steps of 512."""
    X_train, y_train = context_windows(train_ids, 4)
    X_val, y_val = context_windows(val_ids, 4)
    torch.manual_seed(seed)
    model = MLPLM(65, context=4, n_embd=32, n_hidden=512)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
    g, steps, t0 = torch.Generator().manual_seed(seed), 20 if tiny else 6000, time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = 5e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        batch = torch.randint(0, len(X_train), (512,), generator=g)
        loss = F.cross_entropy(model(X_train[batch]), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        val = F.cross_entropy(model(X_val), y_val).item()
    return model, dict(steps=steps, seconds=seconds, val_loss=val, params=num_params(model))


def train_with_fit(model, train_ids, val_ids, cfg: TrainConfig, tiny: bool):
    if tiny:
        cfg = replace(cfg, max_iters=4, eval_interval=2, eval_iters=2, warmup_iters=min(cfg.warmup_iters, 2))
    history = fit(model, train_ids, val_ids, cfg, device=CPU, report=Reporter())
    return dict(steps=cfg.max_iters, seconds=history.seconds, val_loss=evaluate(model, val_ids, cfg.block_size),
                params=num_params(model), eval_steps=history.eval_steps, eval_val=history.eval_val,
                eval_train=history.eval_train)


def rnn_04(vocab_size, seed):
    size = sizes("04", CPU)
    torch.manual_seed(seed)
    return RNNLM(RNNConfig(vocab_size, **size["rnn"].model)), replace(size["rnn"].train, seed=seed)


def recurrent_05(kind, vocab_size, seed, lr=None, n_hidden=248):
    """Notebook 05's RNN (64 → 512) or LSTM (64 → 248, the RNN's parameter count) with its recipe."""
    size = sizes("05", CPU)
    torch.manual_seed(seed)
    if kind == "RNN":
        model = RNNLM(RNNConfig(vocab_size, **size["rnn"].model))
    else:
        model = LSTMLM(LSTMConfig(vocab_size, n_embd=size["rnn"].model["n_embd"], n_hidden=n_hidden))
    return model, replace(size["rnn"].train, learning_rate=lr or size["lr"][kind], seed=seed)


def gpt_07(vocab_size, seed):
    size = sizes("07", CPU)
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size, **size["gpt"].model)), replace(size["gpt"].train, seed=seed)


MODELS = ("MLP", "RNN", "LSTM", "GPT")


def models(seeds, tiny, say, names=MODELS):
    """03's MLP, 04's RNN, 05's LSTM and 07's GPT (or those of `names`), each as its notebook trains it, for several
    seeds: the whole-split validation loss and the loss at each position of windows of 128 characters."""
    tok, train_ids, val_ids = encode_corpus("shakespeare")
    V, runs = tok.vocab_size, []
    for seed in seeds:
        for name in names:
            if name == "MLP":
                model, run = train_mlp_lm(train_ids, val_ids, seed, tiny)
                run["loss_by_position"] = None  # a fixed context of 4 characters: the same at every position
            else:
                model, cfg = rnn_04(V, seed) if name == "RNN" else gpt_07(V, seed) if name == "GPT" else \
                    recurrent_05("LSTM", V, seed)
                run = train_with_fit(model, train_ids, val_ids, cfg, tiny)
                run["block_size"] = cfg.block_size
                run["loss_by_position"] = loss_by_position(model, val_ids, 128)
            run.update(model=name, notebook={"MLP": "03", "RNN": "04", "LSTM": "05", "GPT": "07"}[name], seed=seed)
            say(f"{name:4} seed {seed}: {run['params']:,} parameters, {run['steps']} steps in {run['seconds']:.0f} s, "
                f"whole-split val {run['val_loss']:.4f}")
            runs.append(run)
    result = dict(about="each notebook's model trained as the notebook trains it (seed 0 is the notebook's run); "
                      "val_loss: the notebook's measure on the whole validation split; loss_by_position[t - 1]: "
                      "mean loss at position t of non-overlapping validation windows of 128 characters, each read "
                      "from a fresh state (t characters of context)",
                  baselines=baselines(V, train_ids, val_ids), runs=runs)
    if 0 in seeds and names == MODELS:
        result["pretrained"] = pretrained_by_position(val_ids)
    return result


def pretrained_by_position(val_ids) -> dict:
    """Notebook 09's pre-trained GPT (3 × 160, 9,000 steps): what a GPT trained longer does with its context."""
    body = pretrained_body()
    return dict(about="notebook 09's pre-trained GPT: 3 layers, 160 wide, context 128, 9,000 steps of 16 × 128 "
                      "(data/pretrained/gpt-shakespeare-3x160.txt)", params=num_params(body), steps=9000,
                val_loss=evaluate(body, val_ids, 128), loss_by_position=loss_by_position(body, val_ids, 128))


LR_GRID = {"RNN": [2e-3, 3e-3, 5e-3, 7e-3], "LSTM": [7e-3, 1e-2, 1.5e-2, 2e-2]}


def lr_grid(seeds, tiny, say):
    """Notebook 05's RNN and LSTM (equal parameters, its steps) over a grid of learning rates, several seeds."""
    tok, train_ids, val_ids = encode_corpus("shakespeare")
    runs = []
    for seed in seeds:
        for kind, rates in LR_GRID.items():
            for lr in rates[:1] if tiny else rates:
                model, cfg = recurrent_05(kind, tok.vocab_size, seed, lr)
                run = train_with_fit(model, train_ids, val_ids, cfg, tiny)
                run.update(model=kind, seed=seed, learning_rate=lr)
                say(f"{kind:4} lr {lr:g} seed {seed}: {run['params']:,} parameters, {run['steps']} steps in "
                    f"{run['seconds']:.0f} s, whole-split val {run['val_loss']:.4f}")
                runs.append(run)
    steps = sizes("05", CPU)["rnn"].train.max_iters
    return dict(about=f"notebook 05's RNN (64 → 512) and LSTM (64 → 248), {steps:,} steps of 64 × 64 characters, "
                      "cosine schedule, clipping at 1; val_loss: the whole validation split", grid=LR_GRID, runs=runs)


TRANSFORMER_LRS = [1e-2, 3e-3, 1e-3]


def transformer(seeds, tiny, say):
    """The seed's TransformerModel (post-norm, ReLU, untied output, sinusoidal positions) at the size and with
    the recipe of notebook 07's GPT: each learning rate with seed 0, then the other seeds at the best one. The
    GPT's own seeds are in models.json."""
    tok, train_ids, val_ids = encode_corpus("shakespeare")
    size = sizes("07", CPU)
    g, train = size["gpt"].model, size["gpt"].train
    config = TransformerConfig(tok.vocab_size, block_size=g["block_size"], n_layer=g["n_layer"], n_head=g["n_head"],
                               n_embd=g["n_embd"], n_hidden=4 * g["n_embd"], dropout=0.0)
    runs = []

    def one(lr, seed):
        torch.manual_seed(seed)
        model = TransformerModel(config)
        run = train_with_fit(model, train_ids, val_ids, replace(train, seed=seed) if lr is None else
                             replace(train, learning_rate=lr, min_lr=lr / 10, seed=seed), tiny)
        run.update(model="TransformerModel", seed=seed, learning_rate=lr)
        say(f"TransformerModel lr {lr:g} seed {seed}: {run['params']:,} parameters, {run['steps']} steps, "
            f"whole-split val {run['val_loss']:.4f}")
        runs.append(run)
        return run["val_loss"]

    rates = TRANSFORMER_LRS[:1] if tiny else TRANSFORMER_LRS
    losses = {lr: one(lr, seeds[0]) for lr in rates}
    best = min(losses, key=lambda lr: losses[lr] if math.isfinite(losses[lr]) else math.inf)
    for seed in seeds[1:]:
        one(best, seed)
    return dict(about=f"the seed's TransformerModel trained with notebook 07's recipe for its GPT ({train.max_iters:,} "
                      "steps of 16 × 128, warm-up 100, cosine to a tenth), at each learning rate with the first seed, "
                      "then the other seeds at the best rate; val_loss: the whole validation split",
                config=vars(config), best_learning_rate=best, runs=runs)


OPTIMISERS = {"SGD": ("SGD", {}, [0.1, 0.2, 0.5, 1.0, 2.0, 5.0]),
              "momentum": ("SGD", {"momentum": 0.9}, [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]),
              "Adam": ("Adam", {}, [0.003, 0.01, 0.02, 0.05, 0.1, 0.2]),
              "AdamW": ("AdamW", {"weight_decay": 0.1}, [0.003, 0.01, 0.02, 0.05, 0.1, 0.2])}


def optimisers(seeds, tiny, say):
    """Notebook 02's XOR network (2 → 8 tanh → 2), 100 minibatch steps of 32 points, each optimiser at each
    learning rate, several seeds (initial weights and batches): the full-batch loss after the last step."""
    from ..mlp import init_params

    X, t = xor_blobs(200)
    runs = []
    for seed in seeds:
        init = init_params(2, 8, 2, generator=torch.Generator().manual_seed(seed))
        for name, (cls, kw, rates) in OPTIMISERS.items():
            for lr in rates:
                net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
                with torch.no_grad():
                    net[0].weight.copy_(init["W1"].T)
                    net[0].bias.copy_(init["b1"])
                    net[2].weight.copy_(init["W2"].T)
                    net[2].bias.copy_(init["b2"])
                opt = getattr(torch.optim, cls)(net.parameters(), lr=lr, **kw)
                g = torch.Generator().manual_seed(seed)
                for _ in range(10 if tiny else 100):
                    batch = torch.randint(0, len(X), (32,), generator=g)
                    loss = F.cross_entropy(net(X[batch]), t[batch])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    final = F.cross_entropy(net(X), t).item()
                runs.append(dict(optimiser=name, learning_rate=lr, seed=seed, loss=final))
        for name in OPTIMISERS:
            best = min((r for r in runs if r["optimiser"] == name and r["seed"] == seed), key=lambda r: r["loss"])
            say(f"seed {seed}, {name}: best lr {best['learning_rate']:g}, loss {best['loss']:.4f}")
    return dict(about="notebook 02's XOR network, 100 minibatch steps of 32 of its 200 points; loss: the "
                      "cross-entropy on all 200 points after the last step; seed: the initial weights "
                      "(lmutils.mlp.init_params) and the minibatches",
                optimisers={n: dict(torch=c, kwargs=kw, rates=r) for n, (c, kw, r) in OPTIMISERS.items()}, runs=runs)


# --- notebook 09: the pre-trained body, Prospero's speeches and the real-or-shuffled lines ----------------

def prospero():
    """Notebook 09's fine-tuning data: (tokenizer, pre-training ids, Prospero's training ids, his validation
    ids, the other speakers' held-out text), made as the notebook makes them."""
    text = load_corpus("shakespeare")
    tok, train_ids, val_ids = encode_corpus("shakespeare")
    everyone = speeches(text)
    target = [body for who, body, at in everyone if who == "PROSPERO"]
    n_ft = int(0.8 * len(target))
    ft_train = torch.tensor(tok.encode("\n\n".join(target[:n_ft])))
    ft_val = torch.tensor(tok.encode("\n\n".join(target[n_ft:])))
    others = "\n\n".join(f"{who}:\n{body}" for who, body, at in everyone if at >= len(train_ids) and who != "PROSPERO")
    return tok, train_ids, ft_train, ft_val, torch.tensor(tok.encode(others[:10_000]))


def pretrained_body():
    size = sizes("09", CPU)
    model, _ = load_model(data_dir() / size["checkpoint"], CPU)
    return model


class Curve(Reporter):
    """A reporter for fit that scores whole texts at every evaluation (fit calls evaluated() there)."""

    def __init__(self, model, texts: dict, block_size: int):
        self.model, self.texts, self.block_size = model, texts, block_size
        self.curve = {"step": [], **{name: [] for name in texts}}

    def evaluated(self, step, train_loss, val_loss, speed):
        self.curve["step"].append(step)
        for name, ids in self.texts.items():
            self.curve[name].append(evaluate(self.model, ids, self.block_size))


def curve_run(model, texts: dict, cfg: TrainConfig, tiny: bool) -> dict:
    """Train with fit, scoring each of `texts` (name: ids; "val" among them) at every evaluation, in windows of
    the length it trains on (a model trained from scratch on windows of 64 has never seen a later position)."""
    if tiny:
        cfg = replace(cfg, max_iters=4, eval_interval=2, eval_iters=2)
    curve = Curve(model, texts, cfg.block_size)
    history = fit(model, texts["train"], texts["val"], cfg, device=CPU, report=curve)
    c = curve.curve
    best = min(range(len(c["val"])), key=c["val"].__getitem__)
    return dict(curve=c, seconds=history.seconds, best_step=c["step"][best], best_val=c["val"][best],
                last_val=c["val"][-1])


def overfit(seeds, tiny, say):
    """Long runs on Prospero's 11,014 training characters, scored on his held-out 1,919 every few steps: the
    from-scratch model of notebook 09 (where over-fitting shows and early stopping stops it), the same with
    dropout 0.2 (one fix), and the pre-trained model fine-tuned for longer; then fine-tuning at three learning
    rates for the notebook's 40 steps, with what each forgets of the pre-training domain."""
    size = sizes("09", CPU)
    tok, train_ids, ft_train, ft_val, general_val = prospero()
    body = pretrained_body()
    window = size["finetune"].train.block_size  # every score in windows of the length fine-tuning trains on
    runs = []
    scratch_cfg = replace(size["scratch"].train, max_iters=1500, eval_iters=4)
    for name, dropout, cfg, every in [("from scratch", 0.0, scratch_cfg, 25),
                                      ("from scratch, dropout 0.2", 0.2, scratch_cfg, 25),
                                      ("fine-tuned", None, replace(size["finetune"].train, max_iters=400), 10)]:
        torch.manual_seed(0)
        model = copy.deepcopy(body) if dropout is None else GPT(GPTConfig(**{**vars(body.config), "dropout": dropout}))
        cfg = replace(cfg, eval_interval=every)
        run = curve_run(model, dict(train=ft_train, val=ft_val, general=general_val), cfg, tiny)
        run.update(name=name, learning_rate=cfg.learning_rate, steps=cfg.max_iters, dropout=dropout or 0.0)
        say(f"{name}: best val {run['best_val']:.4f} at step {run['best_step']}, last {run['last_val']:.4f}")
        runs.append(run)
    rates = []
    for lr in [3e-4, 1e-3, size["pretrain"].train.learning_rate]:
        model = copy.deepcopy(body)
        cfg = replace(size["finetune"].train, learning_rate=lr, min_lr=lr / 10)
        train_with_fit(model, ft_train, ft_val, cfg, tiny)
        rates.append(dict(learning_rate=lr, val=evaluate(model, ft_val, cfg.block_size),
                          general=evaluate(model, general_val, cfg.block_size)))
        say(f"fine-tuning at lr {lr:g}: Prospero {rates[-1]['val']:.4f}, others {rates[-1]['general']:.4f}")
    return dict(about="notebook 09's models on Prospero (train: 11,014 characters, val: 1,919); curve: the whole "
                      "training text, his validation text and the other speakers' 10,000 characters (general), "
                      "scored every few steps in windows of 64 (the length fine-tuning trains on, as in the notebook); "
                      "rates: 40 fine-tuning steps at each learning rate",
                pretrained=dict(val=evaluate(body, ft_val, window), general=evaluate(body, general_val, window)),
                runs=runs, rates=rates)


def classification_data(split: int):
    """Notebook 09's real-or-shuffled lines for one split (the notebook uses split 0)."""
    tok, train_ids, *_ = prospero()
    everyone = speeches(load_corpus("shakespeare"))
    raw = [ln for who, body, at in everyone if at >= len(train_ids) for ln in body.split("\n")]
    raw = [ln for ln in raw if len(set(plain(ln).split())) >= 4 and len(plain(ln)) <= 62]
    examples = [("\n" + t + "\n", y) for t, y in real_or_shuffled([plain(ln) for ln in raw], seed=split)]
    train_set, test_set = examples[:-800], examples[-800:]
    length = sizes("09", CPU)["classify"]["length"]
    x_tr, m_tr = pad_batch([t for t, _ in train_set], tok, length)
    x_te, m_te = pad_batch([t for t, _ in test_set], tok, length)
    return x_tr, m_tr, torch.tensor([c for _, c in train_set]), x_te, m_te, torch.tensor([c for _, c in test_set])


def pooling(seeds, tiny, say):
    """Notebook 09's classifier (full, frozen, LoRA) with mean or last pooling, on several splits."""
    cls = sizes("09", CPU)["classify"]
    body = pretrained_body()
    runs = []
    for split in seeds:
        x_tr, m_tr, y_tr, x_te, m_te, y_te = classification_data(split)
        for variant in ("full", "frozen", "lora"):
            for pool in ("mean", "last"):
                model = copy.deepcopy(body)
                if variant == "frozen":
                    freeze(model)
                if variant == "lora":
                    add_lora(model, rank=cls["rank"])
                torch.manual_seed(0)
                clf = GPTClassifier(model, 2, pool=pool)
                train_classifier(clf, x_tr, m_tr, y_tr, steps=4 if tiny else cls["steps"],
                                 batch_size=cls["batch_size"], seed=split, lr=cls["lr"][variant],
                                 head_lr=cls["head_lr"].get(variant))
                accuracy = (predict(clf, x_te, m_te) == y_te).float().mean().item()
                runs.append(dict(seed=split, variant=variant, pool=pool, accuracy=accuracy))
                say(f"split {split} {variant:6} {pool:4}: {accuracy:.4f}")
    return dict(about="notebook 09's real-or-shuffled classifier, 200 steps of 32 lines, 800 test lines per split "
                      "(seed: the split, the seed of real_or_shuffled and of the batches)", runs=runs)


SFT_VARIANTS = [(1e-3, 0.0), (1e-3, 0.3), (3e-4, 0.0), (3e-4, 0.3)]  # (peak learning rate, replay share)


def sft_recipes(seeds, tiny, say):
    """Notebook 12's SFT (python -m lmutils.course.assistant sft) at two peak learning rates, with and without
    replayed pre-training text: each task's measure on the validation split. What replay and a gentler rate keep
    of the pre-trained model's language modelling (the "continue" task) and what they cost the other tasks."""
    train, valid = load_instructions("train"), load_instructions("valid")
    _, text_ids, _ = encode_corpus("shakespeare")
    recipe, runs = sizes("12", CPU)["sft"].train, []
    for seed in seeds:
        for lr, replay in SFT_VARIANTS[:2] if tiny else SFT_VARIANTS:
            model, tok = make_sft_model(CPU, seed)
            examples = [sft_example(tok, e["prompt"], e["answer"]) for e in train]
            cfg = replace(recipe, learning_rate=lr, min_lr=lr / 10, seed=seed, **(dict(max_iters=4) if tiny else {}))
            t0 = time.perf_counter()
            sft(model, with_replay(examples, text_ids, replay, seed), cfg, tok.end_id, report=Reporter())
            run = dict(seed=seed, learning_rate=lr, replay=replay, steps=cfg.max_iters,
                       seconds=time.perf_counter() - t0, **scores(model, tok, valid[:40] if tiny else valid))
            say(f"lr {lr:g} replay {replay:.0%} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in run.items()
                                                                          if k in TASK_KEYS))
            runs.append(run)
    return dict(about=f"notebook 12's SFT recipe ({recipe.max_iters} steps of {recipe.batch_size} examples, warm-up "
                      f"{recipe.warmup_iters}, cosine to a tenth of the peak) from the pre-trained GPT, at each peak "
                      "learning rate with and without replay (the share of the mix that is windows of pre-training "
                      "text); each task's measure on the whole validation split: greedy exact match, and for "
                      "continue the nats per character of the rest of the line (lower is better)", runs=runs)


TASK_KEYS = ("speaker", "real_or_shuffled", "continue (nats per character)")

MEASUREMENTS = {"models": models, "lr-grid": lr_grid, "transformer": transformer, "optimisers": optimisers,
                "overfit": overfit, "pooling": pooling, "sft": sft_recipes}
PER_SEED = ("models", "lr-grid", "optimisers", "pooling", "sft")  # their seeds are independent: written one by one


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.measure", description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(MEASUREMENTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tiny", action="store_true", help="a few steps per run: checks that it runs")
    parser.add_argument("--merge", action="store_true", help="keep the runs of other seeds (and, with --models, of "
                        "other models) already in the file")
    parser.add_argument("--models", nargs="+", choices=MODELS, help="models only: train these (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: the measurements of "
                        "data/measured/ were made so, two at most at a time on a shared two-core machine)")
    parser.add_argument("--out", type=Path, default=None, help="default: data/measured/NAME.json")
    args = parser.parse_args(argv)
    if args.models and args.name != "models":
        parser.error(f"--models chooses among the models of `models`, not of {args.name!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return measure(args)
    finally:
        torch.set_num_threads(threads)


def measure(args) -> int:
    out = args.out or measured_path(args.name)
    say = lambda text: print(text, flush=True)  # noqa: E731
    result = json.loads(out.read_text()) if args.merge and out.exists() else None
    earlier = result.get("command") if result and args.models else None  # the runs kept came from that command
    t0 = time.perf_counter()
    for seeds in [[s] for s in args.seeds] if args.name in PER_SEED else [args.seeds]:
        part = MEASUREMENTS[args.name](seeds, args.tiny, say, **({"names": args.models} if args.models else {}))
        if result is None:
            result = part
        else:  # the new runs replace those of the same seeds (and models)
            new = {(r.get("model"), r.get("seed")) for r in part["runs"]}
            result["runs"] = [r for r in result["runs"] if (r.get("model"), r.get("seed")) not in new] + part["runs"]
            result.update({k: v for k, v in part.items() if k not in result})
        seen = sorted({r["seed"] for r in result["runs"] if "seed" in r})
        flags = (" --tiny" if args.tiny else "") + ("" if args.threads == 1 else f" --threads {args.threads}") + \
            (" --models " + " ".join(args.models) + " --merge" if args.models else "")
        this = f"python -m lmutils.course.measure {args.name}{flags}" + \
            ("" if seen in ([0, 1, 2], []) else " --seeds " + " ".join(map(str, seen)))
        result.update(command=f"{earlier}; then {this}" if earlier else this,
                      date=time.strftime("%Y-%m-%d"),
                      machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
                              f"torch {torch.__version__}",
                      minutes=round(result.get("minutes", 0) + (time.perf_counter() - t0) / 60, 1))
        t0 = time.perf_counter()
        write(result, out)
        say(f"wrote {out} ({len(result['runs'])} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
