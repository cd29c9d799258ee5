"""Training presets: a GPT and its training settings, by name, as plain data.

    get_preset("shakespeare-char-cpu", max_iters=500)    # a copy, with overrides checked
    preset_for(device)                                    # the preset that suits this device
    print(format_preset("shakespeare-char"))

`shakespeare-char` is the widely used reference run on tiny Shakespeare (nanoGPT's
config/train_shakespeare_char.py; nanoGPT reports a validation loss of about 1.47 after it on one A100).
`shakespeare-char-cpu` is a GPT sized for a laptop: about a minute of training on two CPU cores to beat
notebook 03's 5-gram (validation loss 1.7504). nanoGPT's CPU recipe (4 layers × 128, batch 12, 2000 steps,
lr 1e-3) reaches 1.91 here in over two minutes. On a CPU, many small steps over longer windows beat a few
big ones: the context of 128 characters lets each prediction (and each window of the evaluation) see more,
and batches of 16 buy more updates for the same tokens. Measured on two cores, validation loss over the
whole validation split; time: the training alone, or (b) the whole `python -m lmutils.bench` command:

    recipe                                                            params  time        val loss
    nanoGPT's CPU recipe, 4 × 128, batch 12 × 64, 2000 steps, lr 1e-3   0.80M   ~125 s       1.91
      the same, lr 3e-3 (this preset until 2026-11-30)                  0.80M   ~125 s       1.78
    2 × 128, batch 64 × 64, 700 steps, lr 6e-3, warm-up 50              0.41M     61 s       1.7256
    2 × 128, batch 64 × 64, 700 steps, lr 1e-2, warm-up 50              0.41M     63 s       1.7229
    2 × 128, batch 64 × 64, 800 steps, lr 5e-3, warm-up 50              0.41M     69 s       1.7188
    2 × 192, batch 64 × 64, 600 steps, lr 4e-3                          0.91M     88 s       1.715
    2 × 128, batch 32 × 64, 1400 steps, lr 1e-2, warm-up 100            0.41M     69 s (b)   1.6999
    2 × 128, batch 32 × 128, 900 steps, lr 1e-2, warm-up 50             0.42M     79 s (b)   1.6809
    2 × 128, batch 16 × 256, 800 steps, lr 1e-2, warm-up 50             0.43M     89 s (b)   1.7878
    2 × 128, batch 16 × 128, 1600 steps, lr 1e-2, warm-up 100           0.42M     68 s (b)   1.6936
    2 × 128, batch 16 × 128, 1800 steps, lr 1e-2, warm-up 100 (this)    0.42M     79 s (b)   1.6736

`modern-char-cpu` is notebook 11's modern block (RMSNorm, rotary positions, a SwiGLU MLP, QK-norm, zero-initialised
output projections) with Muon for the blocks' matrices, at the CPU preset's size: the last rung of
lmutils.course.ladder (data/measured/ladder-cpu.json), on the MLP it chose (SwiGLU over ReLU², one run each), for
the CPU preset's training time on one core: 1,635 steps, from the ladder's timing (131.9 against 119.8 ms a step).
On two threads its step is 1.59 times the CPU preset's (115.0 against 72.4 ms), so it takes about 1.4 times as
long; the ladder's 1,133-step runs, that time on two threads, end at 1.6004 (3 seeds) against 1.6713.
Its rates were tuned before that, with a ReLU² MLP, on the training run's validation estimates (20 batches) at
1,300 steps, seed 0, two cores shared with other work (the whole-split loss in brackets):

    Muon lr   AdamW lr (embeddings, head, gains)   other             estimate   (whole split)
    0.04      1e-2                                                   1.6252     (1.5980)
    0.02      1e-2                                                   1.6126     (1.5870)
    0.02      2e-2, min 2e-3                                         1.6173     (1.5949)
    0.02      1e-2                                 norms without gains  1.6222  (1.6002)
    0.01      1e-2 (this)                                            1.6056     (1.5838)
    0.01      5e-3, min 5e-4                                         1.6097     (1.5887)
    0.005     1e-2                                                   1.6107     (1.5915)

`modern-char` is the reference run with the modern block and Muon at its usual rate (0.02, torch's example and
Keller Jordan's; AdamW keeps the reference's 1e-3 for the rest), for one GPU: not tuned there.

Every preset holds every setting (corpus, the GPT's, the training's): lmutils.run.split_settings turns one
into a GPTConfig's arguments and a TrainConfig.
"""

_REFERENCE = dict(
    corpus="shakespeare",
    n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, bias=False,
    norm="layernorm", norm_weight=True, pos="learned", rope_base=10000.0, mlp="gelu", mlp_hidden=None,
    qk_norm=False, n_kv_head=None, zero_init_proj=False, tie_weights=True,  # GPT-2's block (lmutils.models)
    batch_size=64, grad_accum=1, max_iters=5000,
    learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=5000,
    beta1=0.9, beta2=0.99, weight_decay=0.1, grad_clip=1.0, optimizer="adamw", muon_lr=0.02, muon_momentum=0.95,
    eval_interval=250, eval_iters=200, log_interval=10,
    dtype="auto", compile=True,
    checkpoint=None, checkpoint_interval=None, early_stop=False, seed=0,
)

PRESETS = {
    "shakespeare-char": dict(
        _REFERENCE,
        about="the reference run (nanoGPT's train_shakespeare_char) for one GPU; mixed precision chosen "
              "automatically: bf16 where the GPU has it, else fp16 + GradScaler"),
    "shakespeare-char-ampere": dict(
        _REFERENCE, dtype="bfloat16",
        about="the reference run on an Ampere or newer GPU (A100, A10, L4, H100, H200): bf16 autocast, "
              "torch.compile"),
    "shakespeare-char-t4": dict(
        _REFERENCE, dtype="float16",
        about="the reference run on a GPU without bf16 (Colab's free T4, V100): fp16 autocast with a "
              "GradScaler, torch.compile"),
    "shakespeare-char-cpu": dict(
        _REFERENCE,
        n_layer=2, n_head=4, n_embd=128, block_size=128, dropout=0.0,
        batch_size=16, max_iters=1800, lr_decay_iters=1800, warmup_iters=100, eval_interval=200, eval_iters=20,
        learning_rate=1e-2, min_lr=1e-3,
        dtype="float32", compile=False,
        about="a small GPT that beats the 5-gram in about a minute on two CPU cores"),
}

# notebook 11's modern block and its CPU training (the last rung of lmutils.course.ladder, measured there)
MODERN_BLOCK = dict(norm="rmsnorm", pos="rope", mlp="swiglu", qk_norm=True, zero_init_proj=True)
MODERN_CPU_TRAINING = dict(optimizer="muon", muon_lr=0.01, muon_momentum=0.95)
PRESETS |= {
    "modern-char-cpu": dict(
        PRESETS["shakespeare-char-cpu"], **MODERN_BLOCK, **MODERN_CPU_TRAINING, max_iters=1635, lr_decay_iters=1635,
        about="the CPU preset's size with the modern block and Muon, trained for as long as the CPU preset on "
              "one core (fewer, slower steps)"),
    "modern-char": dict(
        _REFERENCE, **MODERN_BLOCK, optimizer="muon", muon_lr=0.02,
        about="the reference run's size and schedule with the modern block and Muon, for one GPU (Muon's usual "
              "rate: not tuned on a GPU)"),
}


def get_preset(name: str, **overrides) -> dict:
    """A copy of a preset's settings with overrides applied. Unknown preset names and unknown settings are
    errors that list what is known. The schedule follows max_iters: given max_iters without lr_decay_iters,
    the cosine decay ends at the new max_iters, and a warm-up (without warmup_iters) is cut to at most a
    tenth of the run, so that a shortened run still ends at min_lr."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: known presets are {', '.join(PRESETS)}")
    known = sorted(PRESETS[name])
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(known)}")
    settings = dict(PRESETS[name], **overrides)
    if "max_iters" in overrides:
        if "lr_decay_iters" not in overrides:
            settings["lr_decay_iters"] = settings["max_iters"]
        if "warmup_iters" not in overrides:
            settings["warmup_iters"] = min(settings["warmup_iters"], settings["max_iters"] // 10)
    return settings


def preset_for(device) -> str:
    """The preset that suits a device (lmutils.device.capabilities): the CPU one on CPU and Apple MPS; on CUDA the
    bf16 one where the GPU has bf16 in hardware (compute capability 8.0: A100, L4, H100), else the fp16 +
    GradScaler one (T4, V100, P100). Where torch.compile cannot work (Windows, a P100) fit runs without it."""
    from .device import capabilities

    caps = capabilities(device)
    if caps.sizes == "cpu":
        return "shakespeare-char-cpu"
    return "shakespeare-char-ampere" if caps.bf16 else "shakespeare-char-t4"


def format_preset(name: str, settings: dict | None = None) -> str:
    """A preset as readable lines (model, data and batch, optimiser, schedule, evaluation, speed); with
    settings, those settings, and which of them differ from the preset's."""
    preset = get_preset(name)
    s = settings or preset
    changed = [f"{k}={s[k]}" for k in s if k != "about" and s[k] != preset.get(k)]
    title = f"preset {name}: {preset['about']}"
    if changed:
        title += "\n  changed    " + ", ".join(changed)
    tokens = s["batch_size"] * s["block_size"] * s["grad_accum"]
    min_lr = s["learning_rate"] / 10 if s["min_lr"] is None else s["min_lr"]
    end = s["lr_decay_iters"] or s["max_iters"]
    schedule = (f"{s['max_iters']} steps, lr {s['learning_rate']:g} reached after {s['warmup_iters']} warm-up steps, "
                f"cosine down to {min_lr:g} at step {end}")
    if end > s["max_iters"]:
        schedule += (f", after the last step: the run ends before the learning rate is down "
                     f"(--lr-decay-iters {s['max_iters']} ends the decay with the run)")
    elif s["max_iters"] != preset["max_iters"] and end == s["max_iters"]:
        schedule += " (the schedule follows max_iters)"
    clip = "no gradient clipping" if not s["grad_clip"] else f"clip gradients at norm {s['grad_clip']}"
    rows = [
        ("model", f"GPT, {s['n_layer']} layers, {s['n_head']} heads, {s['n_embd']} wide, "
                  f"context {s['block_size']}, dropout {s['dropout']}"),
        ("data", f"{s['corpus']}, batch {s['batch_size']} × {s['block_size']} tokens × "
                 f"{s['grad_accum']} micro-batch(es) = {tokens:,} tokens per step"),
        ("optimiser", (f"Muon (lr {s['muon_lr']:g}, momentum {s['muon_momentum']}) for the blocks' matrices, "
                       "AdamW for the rest: " if s["optimizer"] == "muon" else "AdamW, ")
         + f"betas ({s['beta1']}, {s['beta2']}), weight decay {s['weight_decay']}, " + clip),
        ("schedule", schedule),
        ("evaluation", f"every {s['eval_interval']} steps, on {s['eval_iters']} batches of each split"
                       + (", stop early when validation loss rises well above its best" * s["early_stop"])),
        ("speed", f"dtype {s['dtype']}, torch.compile {'on' if s['compile'] else 'off'}"),
    ]
    if block := modern_block(s):
        rows.insert(1, ("block", block))
    return "\n".join([title] + [f"  {k:<11}{v}" for k, v in rows])


def modern_block(s: dict) -> str:
    """What of a preset's block is not GPT-2's, in words ("" for GPT-2's block)."""
    words = {"norm": {"rmsnorm": "RMSNorm"}, "pos": {"rope": f"rotary positions (base {s['rope_base']:g})"},
             "mlp": {"swiglu": "SwiGLU MLP", "relu2": "ReLU² MLP"}}
    parts = [words[k][s[k]] for k in words if s[k] in words[k]]
    parts += [text for k, text in (("qk_norm", "QK-norm"), ("zero_init_proj", "zero-initialised projections")) if s[k]]
    if not s["norm_weight"]:
        parts.append("norms without gains")
    if s["n_kv_head"] not in (None, s["n_head"]):
        parts.append(f"{s['n_kv_head']} key/value heads")
    if s["mlp_hidden"]:
        parts.append(f"MLP {s['mlp_hidden']} wide")
    if not s["tie_weights"]:
        parts.append("untied output layer")
    return ", ".join(parts)


def format_presets() -> str:
    """All presets, one line each."""
    lines = [f"{'preset':<24}{'layers':>7}{'width':>7}{'context':>8}{'batch':>7}{'steps':>7}  dtype     compile"]
    for name, s in PRESETS.items():
        lines.append(f"{name:<24}{s['n_layer']:>7}{s['n_embd']:>7}{s['block_size']:>8}{s['batch_size']:>7}"
                     f"{s['max_iters']:>7}  {s['dtype']:<10}{'on' if s['compile'] else 'off'}")
    return "\n".join(lines)
