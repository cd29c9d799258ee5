"""Training presets: a GPT and its training settings, by name, as plain data.

    get_preset("shakespeare-char-cpu", max_iters=500)    # a copy, with overrides checked
    preset_for(device)                                    # the preset that suits this device
    print(format_preset("shakespeare-char"))

`shakespeare-char` is the widely used reference run on tiny Shakespeare (nanoGPT's
config/train_shakespeare_char.py; nanoGPT reports a validation loss of about 1.47 after it on one A100).
`shakespeare-char-cpu` is nanoGPT's CPU recipe for the same data (nanoGPT reports a validation loss of
about 1.88), with the learning rate raised from 1e-3 to 3e-3 (min_lr 1e-4 to 3e-4): measured here after
2000 steps, 1e-3 gave 1.92, 2e-3 1.83, 3e-3 1.80, 5e-3 1.80, 7e-3 1.81 (validation loss estimated on 20
batches as fit does; over the whole validation split 1.91, 1.81, 1.78, 1.77, 1.79).
"""

from dataclasses import fields

from .models import GPTConfig

_REFERENCE = dict(
    corpus="shakespeare",
    n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, bias=False,
    batch_size=64, grad_accum=1, max_iters=5000,
    learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=5000,
    beta1=0.9, beta2=0.99, weight_decay=0.1, grad_clip=1.0,
    eval_interval=250, eval_iters=200, log_interval=10,
    dtype="auto", compile=True,
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
        n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0,
        batch_size=12, max_iters=2000, lr_decay_iters=2000, eval_iters=20,
        learning_rate=3e-3, min_lr=3e-4,  # nanoGPT's 1e-3 and 1e-4 reach val 1.92 here, 3e-3 val 1.80
        dtype="float32", compile=False,
        about="nanoGPT's CPU recipe (learning rate 3e-3): a small GPT that trains on a CPU in minutes"),
}

MODEL_KEYS = tuple(f.name for f in fields(GPTConfig) if f.name != "vocab_size")


def _train_keys():
    from .train import TrainConfig  # train imports this module: import late
    return tuple(f.name for f in fields(TrainConfig))


def known_settings() -> list[str]:
    return sorted({"corpus", "about", *MODEL_KEYS, *_train_keys()})


def get_preset(name: str, **overrides) -> dict:
    """A copy of a preset's settings with overrides applied. Unknown preset names and unknown settings are
    errors that list what is known."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: known presets are {', '.join(PRESETS)}")
    known = known_settings()
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(known)}")
    return dict(PRESETS[name], **overrides)


def split_settings(settings: dict):
    """Settings → (corpus name, GPTConfig keyword arguments without vocab_size, TrainConfig).
    block_size is both the model's context and the length of the training windows."""
    from .train import TrainConfig

    model = {k: settings[k] for k in MODEL_KEYS if k in settings}
    train = TrainConfig(**{k: settings[k] for k in _train_keys() if k in settings})
    return settings.get("corpus", "shakespeare"), model, train


def preset_for(device) -> str:
    """The preset that suits a device: the CPU one on CPU and Apple MPS; on CUDA the bf16 one where the
    GPU supports bf16 (Ampere and newer), else the fp16 one (T4, V100)."""
    import torch

    if torch.device(device).type != "cuda":
        return "shakespeare-char-cpu"
    return "shakespeare-char-ampere" if torch.cuda.is_bf16_supported() else "shakespeare-char-t4"


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
    clip = "no gradient clipping" if not s["grad_clip"] else f"clip gradients at norm {s['grad_clip']}"
    rows = [
        ("model", f"GPT, {s['n_layer']} layers, {s['n_head']} heads, {s['n_embd']} wide, "
                  f"context {s['block_size']}, dropout {s['dropout']}"),
        ("data", f"{s['corpus']}, batch {s['batch_size']} × {s['block_size']} tokens × "
                 f"{s['grad_accum']} micro-batch(es) = {tokens:,} tokens per step"),
        ("optimiser", f"AdamW, betas ({s['beta1']}, {s['beta2']}), weight decay {s['weight_decay']}, "
                      + clip),
        ("schedule", f"{s['max_iters']} steps, lr {s['learning_rate']:g} reached after {s['warmup_iters']} warm-up steps, "
                     f"cosine down to {min_lr:g} at step {s['lr_decay_iters'] or s['max_iters']}"),
        ("evaluation", f"every {s['eval_interval']} steps, on {s['eval_iters']} batches of each split"),
        ("speed", f"dtype {s['dtype']}, torch.compile {'on' if s['compile'] else 'off'}"),
    ]
    return "\n".join([title] + [f"  {k:<11}{v}" for k, v in rows])


def format_presets() -> str:
    """All presets, one line each."""
    lines = [f"{'preset':<24}{'layers':>7}{'width':>7}{'context':>8}{'batch':>7}{'steps':>7}  dtype     compile"]
    for name, s in PRESETS.items():
        lines.append(f"{name:<24}{s['n_layer']:>7}{s['n_embd']:>7}{s['block_size']:>8}{s['batch_size']:>7}"
                     f"{s['max_iters']:>7}  {s['dtype']:<10}{'on' if s['compile'] else 'off'}")
    return "\n".join(lines)
