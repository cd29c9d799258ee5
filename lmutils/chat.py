"""From a language model to an assistant: a chat template, supervised fine-tuning (SFT) with the loss on the answer
only, a preference step (DPO), and a chat loop that stops at the end marker.

    tok = ChatTokenizer(char_tok)                         # + <|user|>, <|assistant|>, <|end|> as new ids
    model = grow_vocab(pretrained, tok.vocab_size)        # room for them in the embedding (and the tied head)
    render("Who speaks this line?\\n...", "PETRUCHIO")    # '<|user|>Who ...<|assistant|>PETRUCHIO<|end|>'
    x, y = sft_example(tok, prompt, answer)               # y is -100 (IGNORE) under the prompt: no loss there
    mix = with_replay(examples, text_ids, 0.3)            # + windows of plain pre-training text (30 % of the mix)
    sft(model, mix, cfg)                                  # TrainConfig, lr_at, make_optimizer and train_step
    answers = complete(model, tok, prompts)               # greedy answers, batched, each up to its <|end|>
    dpo(model, reference, pairs, cfg, beta=0.1)           # chosen answers up, rejected ones down, near the reference
    Chat(model, tok).reply("Who art thou?")               # a conversation, turn by turn

The template marks who is talking: a user's turn is <|user|> + their text, the assistant's turn is <|assistant|> +
its answer + <|end|>. The model learns to write the answer after <|assistant|> and then <|end|>, which is how
generation knows to stop.

DPO (Rafailov et al., 2023) trains on pairs (prompt x, chosen answer y_w, rejected answer y_l) without a reward
model. With the SFT model frozen as the reference pi_ref:

    loss = -log sigmoid(beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])

It raises the chosen answer's log-probability relative to the reference and lowers the rejected one's; beta says
how far from the reference that may go (it is the strength of the KL penalty that DPO solves in closed form).
"""

import json
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from .data import ChatTokenizer, data_dir
from .device import resolve_dtype
from .generate import next_token_probs
from .kvcache import KVCache
from .models import GPT, GPTConfig
from .progress import reporter
from .speed import Meter
from .train import History, TrainConfig, lr_at, make_optimizer, train_step

USER, ASSISTANT, END = ChatTokenizer.MARKERS
IGNORE = -100  # a target that carries no loss: F.cross_entropy's ignore_index
TASKS = ("speaker", "real_or_shuffled", "continue")
MIN_ANSWER = 16  # a chat message must leave the model room for at least this many tokens of answer


# --- the template ----------------------------------------------------------------------------------

def render(prompt: str, answer: str | None = None, end: bool = True) -> str:
    """One exchange in the chat template. Without an answer: the prompt the model must answer, up to and
    including <|assistant|>. end=False leaves out <|end|> (to see what goes wrong without it)."""
    text = f"{USER}{prompt}{ASSISTANT}"
    return text if answer is None else text + answer + (END if end else "")


def render_chat(turns) -> str:
    """A whole conversation, [(user text, assistant text or None)], the last answer None while it is awaited."""
    return "".join(render(q, a) for q, a in turns)


def grow_vocab(model: GPT, vocab_size: int, seed: int = 0, dropout: float | None = None) -> GPT:
    """A copy of the GPT with vocab_size token rows: the old rows copied, each new one the mean of the old rows plus
    a little noise (std 1 % of theirs, so that the new tokens differ from one another). A mean row makes the new
    tokens start as "an average character": the tied head then gives each of them a logit near the average one,
    neither certain nor impossible. The rest of the model is copied unchanged (dropout: the copy's dropout rate,
    for fine-tuning; None keeps the model's)."""
    old = model.config.vocab_size
    if vocab_size < old:
        raise ValueError(f"vocab_size={vocab_size} is smaller than the model's {old}: grow_vocab only adds tokens")
    config = {**vars(model.config), "vocab_size": vocab_size}
    if dropout is not None:
        config["dropout"] = dropout
    grown = GPT(GPTConfig(**config)).to(model.tok_emb.weight.device)
    state = {k: v for k, v in model.state_dict().items() if k not in ("tok_emb.weight", "head.weight")}
    grown.load_state_dict(state, strict=False)
    with torch.no_grad():
        w = model.tok_emb.weight
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(vocab_size - old, w.size(1), generator=g).to(w) * 0.01 * w.std()
        grown.tok_emb.weight.copy_(torch.cat([w, w.mean(0, keepdim=True) + noise]))
    return grown.train(model.training)


# --- supervised fine-tuning ---------------------------------------------------------------------------

def scored(prompt_ids: list[int], answer_ids: list[int]) -> tuple[list[int], list[int]]:
    """(inputs, targets) of a prompt followed by an answer, the targets IGNORE inside the prompt: only the answer
    carries loss."""
    ids = prompt_ids + answer_ids
    return ids[:-1], [IGNORE] * (len(prompt_ids) - 1) + answer_ids


def sft_example(tok, prompt: str, answer: str, mask: bool = True, end: bool = True) -> tuple[list[int], list[int]]:
    """(inputs, targets) of one exchange in the template: the targets are the inputs shifted by one, and with
    mask=True every target inside the prompt is IGNORE, so that only the answer (and its <|end|>) carries loss."""
    prompt_ids, answer_ids = tok.encode(render(prompt)), tok.encode(answer) + ([tok.end_id] if end else [])
    if mask:
        return scored(prompt_ids, answer_ids)
    ids = prompt_ids + answer_ids
    return ids[:-1], ids[1:]


def halves(example: dict) -> tuple[str, str]:
    """A "continue" example's two halves: the words the prompt gives, and the rest of the line, the part scored."""
    given = example["prompt"].removeprefix("Complete this line: ")
    return given, example["answer"][len(given) + 1:]


def continuation_example(tok, example: dict, before: str = "") -> tuple[list[int], list[int]]:
    """(inputs, targets) that score only the rest of a "continue" example's line, read after `before` and the
    given words: with the template, before = render(prompt), so the model has repeated the given words itself."""
    given, rest = halves(example)
    return scored(tok.encode(before + given + " "), tok.encode(rest))


def replay_examples(ids: torch.Tensor, n: int, length: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """n random windows of plain pre-training text (ids), each `length` tokens, as (inputs, targets) with loss on
    every token. Mixed into SFT's examples they keep the model practising what it was pre-trained on: fine-tuned on
    the instructions alone, a model forgets some of its language modelling ("replay", as InstructGPT mixes
    pre-training gradients into its RLHF step)."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - length, (n,), generator=g).tolist()
    return [(ids[s:s + length].tolist(), ids[s + 1:s + length + 1].tolist()) for s in starts]


def with_replay(examples, ids: torch.Tensor, share: float, seed: int = 0):
    """The SFT examples and as many replay windows (of their mean length) as make `share` of the whole mix."""
    if not 0 <= share < 1:
        raise ValueError(f"the replay share must be at least 0 and below 1, got {share}")
    n = round(len(examples) * share / (1 - share))
    length = round(sum(len(x) for x, _ in examples) / len(examples))
    return examples + replay_examples(ids, n, length, seed) if n else list(examples)


def pad_examples(examples, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (inputs, targets) pairs to the longest: inputs with pad_id, targets with IGNORE. Padding at the
    end changes nothing before it (attention is causal) and carries no loss."""
    T = max(len(x) for x, _ in examples)
    x = torch.full((len(examples), T), pad_id, dtype=torch.long)
    y = torch.full((len(examples), T), IGNORE, dtype=torch.long)
    for i, (xi, yi) in enumerate(examples):
        x[i, :len(xi)], y[i, :len(yi)] = torch.tensor(xi), torch.tensor(yi)
    return x, y


def sft_batches(examples, batch_size: int, pad_id: int, device=None, seed: int = 0):
    """A batch source for lmutils.train.train_step: each call returns (x, y) of batch_size random examples."""
    g = torch.Generator().manual_seed(seed)

    def next_batch():
        i = torch.randint(len(examples), (batch_size,), generator=g).tolist()
        x, y = pad_examples([examples[j] for j in i], pad_id)
        return x.to(device), y.to(device)
    return next_batch


@torch.no_grad()
def answer_loss(model, examples, pad_id: int, batch_size: int = 128) -> float:
    """Mean loss per scored target (nats), over all examples: with masked examples, per answer token."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    nll, count = 0.0, 0
    for b in range(0, len(examples), batch_size):
        x, y = (t.to(device) for t in pad_examples(examples[b:b + batch_size], pad_id))
        nll += F.cross_entropy(model(x).flatten(0, 1).float(), y.flatten(), reduction="sum").item()
        count += (y != IGNORE).sum().item()
    model.train(was_training)
    return nll / count


def sft(model, examples, cfg: TrainConfig, pad_id: int, val_examples=None, device=None, report=None) -> History:
    """Supervised fine-tuning on (inputs, targets) examples with the course's training pieces: lr_at's warm-up and
    cosine schedule, make_optimizer's AdamW and train_step (clipping, accumulation, mixed precision). Every
    eval_interval steps (and at the end) the loss per scored target on val_examples and on as many training examples.
    report: as fit's (lmutils.progress; None prints the evaluation lines). Returns the History (its tokens count the
    padded batches)."""
    device = torch.device(device or next(model.parameters()).device)
    report = reporter(report)
    dtype = resolve_dtype(cfg.dtype, device)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
    optimizer = make_optimizer(model.to(device), cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    next_batch = sft_batches(examples, cfg.batch_size, pad_id, device, cfg.seed)
    history = History()
    mean_len = sum(len(x) for x, _ in examples) / len(examples)
    meter = Meter(history, round(cfg.batch_size * cfg.grad_accum * mean_len))
    train_sample = examples[:len(val_examples)] if val_examples else []
    report.start(history, 0, cfg.max_iters)
    model.train()
    try:
        for step in range(cfg.max_iters + 1):
            if val_examples and (step % cfg.eval_interval == 0 or step == cfg.max_iters):
                with meter.paused():
                    tr, va = (answer_loss(model, e, pad_id) for e in (train_sample, val_examples))
                    report.evaluated(step, tr, va, meter.evaluated(step, tr, va))
                model.train()
            if step == cfg.max_iters:
                break
            lr = lr_at(step, cfg)
            meter.losses.append(train_step(model, optimizer, scaler, lr, next_batch, cfg.grad_accum, cfg.grad_clip,
                                           autocast))
            if (step + 1) % cfg.log_interval == 0 or step + 1 == cfg.max_iters:
                report.logged(step + 1, *meter.log(step + 1, lr))
        report.end(history, cfg.max_iters)
    finally:
        report.close()
    model.eval()
    return history


# --- answering -------------------------------------------------------------------------------------------

@torch.no_grad()
def complete(model, tok, prompts, max_new_tokens: int = 64, top_k: int | None = 1, temperature: float = 1.0,
             top_p: float | None = None, seed: int = 0, batch_size: int = 256, template: bool = True,
             stop: str | None = None) -> list[str]:
    """The model's answer to each prompt (greedy by default: top_k=1), generated in left-padded batches with a KV
    cache and cut at the first <|end|>; an answer that never reached <|end|> is returned as far as it got. With
    template=False the prompts go in as they are, and `stop` (e.g. "\\n") ends an answer instead."""
    device = next(model.parameters()).device
    texts = [render(p) if template else p for p in prompts]
    stop_id = tok.end_id if stop is None else tok.encode(stop)[0]
    g = torch.Generator(device=device).manual_seed(seed)
    out = []
    for b in range(0, len(texts), batch_size):
        ids = [tok.encode(t) for t in texts[b:b + batch_size]]
        out += [tok.decode(a) for a in _complete_ids(model, ids, max_new_tokens, stop_id, g, top_k, temperature,
                                                      top_p)]
    return out


def _complete_ids(model, ids, max_new_tokens, stop_id, generator, top_k, temperature, top_p):
    longest = max(len(i) for i in ids)
    room = model.block_size - longest
    if room < 1:
        raise ValueError(f"a prompt of {longest} tokens leaves no room in the model's context "
                         f"(block_size={model.block_size}): shorten it")
    device = next(model.parameters()).device
    pad = torch.tensor([longest - len(i) for i in ids], device=device)
    idx = torch.tensor([[stop_id] * (longest - len(i)) + i for i in ids], device=device)
    was_training = model.training
    model.eval()
    caches = [KVCache(pad) for _ in model.blocks]
    logits = model(idx, caches)[:, -1]
    new, done = [], torch.zeros(len(ids), dtype=torch.bool, device=device)
    for step in range(min(max_new_tokens, room)):
        nxt = torch.multinomial(next_token_probs(logits, temperature, top_k, top_p), 1, generator=generator)
        nxt[done] = stop_id
        new.append(nxt)
        done |= nxt[:, 0] == stop_id
        if done.all() or step == min(max_new_tokens, room) - 1:
            break
        logits = model(nxt, caches)[:, -1]
    model.train(was_training)
    rows = torch.cat(new, 1).tolist() if new else [[] for _ in ids]
    return [r[:r.index(stop_id)] if stop_id in r else r for r in rows]


class Chat:
    """A conversation with a chat model. reply(text) adds the user's turn, generates the assistant's answer up to
    <|end|> (or max_new_tokens) and keeps both. The model sees up to `memory` earlier turns (None: as many as fit in
    its context), the latest first; a model fine-tuned on single exchanges does best with memory=0. What the user
    types is encoded as text only: typing "<|end|>" cannot end a turn."""

    def __init__(self, model, tok, max_new_tokens: int = 80, temperature: float = 0.8, top_k: int | None = None,
                 top_p: float | None = None, seed: int = 0, memory: int | None = None):
        self.model, self.tok, self.memory = model, tok, memory
        self.max_new_tokens, self.temperature, self.top_k, self.top_p = max_new_tokens, temperature, top_k, top_p
        self.turns: list[tuple[str, str]] = []  # (what the user said, what the model answered)
        self.stopped: list[bool] = []  # did each answer end with <|end|>?
        self._ids: list[list[int]] = []  # each turn's ids, the answer as generated
        self.generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)

    def turn_ids(self, question: str) -> list[int]:
        """<|user|> question <|assistant|>, the question encoded by the base tokenizer alone."""
        return [self.tok.user_id, *self.tok.base.encode(question), self.tok.assistant_id]

    def context(self, text: str) -> list[int]:
        """The ids the model sees for the next answer: the new turn, after as many of the latest earlier turns as
        leave room for max_new_tokens."""
        ids = self.turn_ids(text)
        room = self.model.block_size - MIN_ANSWER
        if len(ids) > room:
            raise ValueError(f"the message is {len(ids)} tokens long, more than the {room} that fit in the model's "
                             f"context (block_size={self.model.block_size}) with room for an answer: shorten it")
        kept = self._ids if self.memory is None else self._ids[len(self._ids) - self.memory:] if self.memory else []
        for turn in reversed(kept):
            if len(turn) + len(ids) + self.max_new_tokens > self.model.block_size:
                break
            ids = turn + ids
        return ids

    def reply(self, text: str) -> str:
        ids = self.context(text)
        limit = min(self.max_new_tokens, self.model.block_size - len(ids))
        row = _complete_ids(self.model, [ids], limit, self.tok.end_id, self.generator, self.top_k,
                            self.temperature, self.top_p)[0]
        answer = self.tok.decode(row)
        self.stopped.append(len(row) < limit)
        self.turns.append((text, answer))
        self._ids.append(self.turn_ids(text) + row + [self.tok.end_id])
        return answer


def few_shot(prompt: str, shots, room: int) -> str:
    """A plain-text prompt for a model that never saw the template: solved examples (prompt, answer) written as
    "prompt\nAnswer: answer\n\n", as many of shots as fit in `room` characters, then the prompt and "Answer: "."""
    text = f"{prompt}\nAnswer: "
    for q, a in shots:
        shot = f"{q}\nAnswer: {a}\n\n"
        if len(shot) + len(text) > room:
            break
        text = shot + text
    return text


# --- preferences: DPO ------------------------------------------------------------------------------------

def sequence_logprob(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log pi(answer | prompt) of each row: the sum of the log-probabilities of its scored targets (y != IGNORE)."""
    logp = F.log_softmax(model(x).float(), dim=-1)
    scored = y != IGNORE
    picked = logp.gather(-1, y.clamp(min=0)[..., None])[..., 0]
    return (picked * scored).sum(-1)


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta: float = 0.1) -> torch.Tensor:
    """The DPO loss, mean over pairs, from the four sequence log-probabilities (each (N,)): see the module's
    docstring."""
    margin = (pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


def dpo(model, reference, pairs, cfg: TrainConfig, pad_id: int, beta: float = 0.1, report=None) -> History:
    """Train model on preference pairs [(chosen (x, y), rejected (x, y))] with the DPO loss, the reference frozen.
    AdamW, warm-up and cosine schedule and clipping as in SFT (make_optimizer, lr_at); train_step computes the
    language-model loss, so the step is written out here. report: as fit's (None: a Printer). Returns the History,
    its train_loss the DPO loss every log_interval steps."""
    device = next(model.parameters()).device
    report = reporter(report)
    reference.eval()
    optimizer = make_optimizer(model, cfg, device)
    g = torch.Generator().manual_seed(cfg.seed)
    history = History()
    mean_len = sum(len(x) for pair in pairs for x, _ in pair) / len(pairs)
    meter = Meter(history, round(cfg.batch_size * mean_len))
    report.start(history, 0, cfg.max_iters)
    model.train()
    try:
        for step in range(cfg.max_iters):
            i = torch.randint(len(pairs), (cfg.batch_size,), generator=g).tolist()
            x, y = (t.to(device) for t in pad_examples([pairs[j][0] for j in i] + [pairs[j][1] for j in i], pad_id))
            with torch.no_grad():
                ref = sequence_logprob(reference, x, y)
            pi = sequence_logprob(model, x, y)
            n = len(i)
            loss = dpo_loss(pi[:n], pi[n:], ref[:n], ref[n:], beta)
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            meter.losses.append(loss.detach())
            if (step + 1) % cfg.log_interval == 0 or step + 1 == cfg.max_iters:
                report.logged(step + 1, *meter.log(step + 1, lr))
        report.end(history, cfg.max_iters)
    finally:
        report.close()
    model.eval()
    return history


@torch.no_grad()
def kl_divergence(model, reference, examples, pad_id: int, batch_size: int = 128) -> float:
    """Mean KL(pi || pi_ref) of the next-token distributions at the scored positions of examples (nats per
    token): how far the model has moved from the reference, where it answers."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for b in range(0, len(examples), batch_size):
        x, y = (t.to(device) for t in pad_examples(examples[b:b + batch_size], pad_id))
        logp, logq = (F.log_softmax(m(x).float(), -1) for m in (model, reference))
        kl = (logp.exp() * (logp - logq)).sum(-1)
        scored = y != IGNORE
        total += kl[scored].sum().item()
        count += scored.sum().item()
    return total / count


# --- the instruction data ----------------------------------------------------------------------------------

def load_instructions(split: str) -> list[dict]:
    """The course's instruction data of one split ("train", "valid" or "test"): dicts with task, prompt, answer
    and source (where the line it was made from starts in tinyshakespeare.txt). Made by
    `python -m lmutils.course.instructions` (see data/README.md)."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"unknown split {split!r}: one of train, valid, test")
    path = data_dir() / "instructions" / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: make it with `python -m lmutils.course.instructions`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def accuracy(answers, references) -> float:
    """The share of answers that are exactly their reference."""
    return sum(a == r for a, r in zip(answers, references)) / max(1, len(answers))
