"""The commands of notebook 12 (`python -m lmutils.course.assistant ...`):

    python -m lmutils.course.assistant sft --export data/pretrained/gpt-shakespeare-3x160-sft.ckpt    # fine-tune
    python -m lmutils.course.assistant talk --checkpoint data/pretrained/gpt-shakespeare-3x160-sft.ckpt  # chat

sft starts from the pre-trained GPT (data/pretrained/gpt-shakespeare-3x160.ckpt), adds the chat template's markers
(lmutils.chat.grow_vocab), fine-tunes on the training split of data/instructions/ with lmutils.chat.sft, scores
each task on the validation split, and exports the weights with the ChatTokenizer (no optimizer state).
"""

import argparse
import sys
from dataclasses import replace

from ..chat import (TASKS, Chat, accuracy, answer_loss, complete, continuation_example, grow_vocab, load_instructions,
                    render, sft, sft_example, with_replay)
from ..checkpoint import load_model, save_checkpoint
from ..data import ChatTokenizer, data_dir, encode_corpus
from ..device import pick_device, seed_everything
from ..models import num_params
from ..progress import Printer, ProgressBar
from ..train import TrainConfig
from .sizes import sizes

PRETRAINED = "pretrained/gpt-shakespeare-3x160.ckpt"


def sft_config(args) -> TrainConfig:
    """The table's CPU recipe (lmutils.course.sizes, notebook 12's "sft"), with what the command line changes."""
    cfg = sizes("12", "cpu")["sft"].train
    return replace(cfg, **{k: v for k, v in dict(max_iters=args.steps, batch_size=args.batch_size,
                                                 learning_rate=args.lr, warmup_iters=args.warmup,
                                                 eval_interval=args.eval_interval, seed=args.seed).items()
                           if v is not None})


def make_sft_model(device, seed: int = 0, dropout: float | None = None):
    """The pre-trained GPT with room for the markers, and the ChatTokenizer."""
    base, char_tok = load_model(data_dir() / PRETRAINED, device)
    tok = ChatTokenizer(char_tok)
    return grow_vocab(base, tok.vocab_size, seed=seed, dropout=dropout), tok


def scores(model, tok, examples) -> dict[str, float]:
    """Each task's measure on examples: the accuracy of greedy answers; for "continue", the loss per character of
    the real rest of the line (lower is better)."""
    out = {}
    for task in TASKS:
        mine = [e for e in examples if e["task"] == task]
        if task == "continue":
            out["continue (nats per character)"] = answer_loss(
                model, [continuation_example(tok, e, render(e["prompt"])) for e in mine], tok.end_id)
        else:
            answers = complete(model, tok, [e["prompt"] for e in mine], max_new_tokens=16)
            out[task] = accuracy(answers, [e["answer"] for e in mine])
    return out


def sft_main(args) -> int:
    seed_everything(args.seed)
    device = pick_device(args.device)
    model, tok = make_sft_model(device, args.seed, args.dropout)
    train, valid = load_instructions("train"), load_instructions("valid")
    examples = [sft_example(tok, e["prompt"], e["answer"], mask=not args.no_mask, end=not args.no_end) for e in train]
    replay = sizes("12", "cpu")["replay"] if args.replay is None else args.replay
    _, text_ids, _ = encode_corpus("shakespeare")  # the pre-training split, which holds no instruction's line
    mixed = with_replay(examples, text_ids, replay, args.seed)
    val_examples = [sft_example(tok, e["prompt"], e["answer"]) for e in valid]
    cfg = sft_config(args)
    print(f"SFT from {PRETRAINED}: {num_params(model):,} parameters, {len(examples):,} training examples, "
          f"loss {'on the answers only' if not args.no_mask else 'on every token'}"
          f"{', no end marker' if args.no_end else ''}; {len(mixed) - len(examples):,} windows of pre-training text "
          f"replayed ({replay:.0%} of the mix)")
    print(f"  {cfg.max_iters} steps × {cfg.batch_size} examples, lr {cfg.learning_rate:g} (warm-up {cfg.warmup_iters}, "
          f"cosine to {cfg.min_lr:g}), dropout {model.config.dropout:g}, seed {cfg.seed}, device {device}")
    report = Printer() if args.no_progress else ProgressBar("SFT")
    sft(model, mixed, cfg, tok.end_id, val_examples=val_examples, report=report)  # per answer token
    for task, value in scores(model, tok, valid).items():
        print(f"validation {task}: {value:.4f}")
    if args.export:
        save_checkpoint(args.export, model.cpu(), tokenizer=tok)
        print(f"exported the weights to {args.export}")
    return 0


def talk_main(args) -> int:
    device = pick_device(args.device)
    model, tok = load_model(args.checkpoint, device)
    if not isinstance(tok, ChatTokenizer):
        print(f"{args.checkpoint} holds no chat model (its tokenizer has no chat markers): give a checkpoint made by "
              "`python -m lmutils.course.assistant sft --export ...`", file=sys.stderr)
        return 2
    chat = Chat(model, tok, max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                seed=args.seed, memory=args.memory)
    print("Talk to the model (an empty line ends; \\n for a new line). Try: Who speaks this line?\\nO, what a "
          "rogue am I! / Real line or shuffled words?\\nto be or not to be / Complete this line: Now is the winter")
    while True:
        try:
            text = input("you> ")
        except EOFError:
            break
        if not text.strip():
            break
        try:
            print("model>", chat.reply(text.replace("\\n", "\n")))
        except ValueError as err:
            print(f"({err})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.assistant", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sft", help="fine-tune the pre-trained GPT on the instruction data and export it")
    s.add_argument("--steps", type=int, help="optimizer steps (default: lmutils.course.sizes, notebook 12's sft)")
    s.add_argument("--batch-size", type=int, help="examples per step (default: the table's)")
    s.add_argument("--lr", type=float, help="peak learning rate; min_lr stays the table's (default: the table's)")
    s.add_argument("--warmup", type=int, help="warm-up steps (default: the table's)")
    s.add_argument("--eval-interval", type=int, help="steps between validation losses (default: the table's)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--dropout", type=float, default=None, help="dropout while fine-tuning (default: the model's)")
    s.add_argument("--replay", type=float, help="share of the training mix that is plain pre-training text (default: "
                   "the table's; 0: the instructions alone)")
    s.add_argument("--no-mask", action="store_true", help="train on every token, the prompt's too")
    s.add_argument("--no-end", action="store_true", help="leave out the end marker")
    s.add_argument("--export", help="where to save the fine-tuned weights and tokenizer")
    s.add_argument("--device", default=None)
    s.add_argument("--no-progress", action="store_true")
    t = sub.add_parser("talk", help="chat with a fine-tuned model in the terminal")
    t.add_argument("--checkpoint", default=str(data_dir() / "pretrained/gpt-shakespeare-3x160-sft.ckpt"))
    t.add_argument("--temperature", type=float, default=0.8)
    t.add_argument("--top-k", type=int, default=None)
    t.add_argument("--max-new-tokens", type=int, default=80)
    t.add_argument("--memory", type=int, default=0, help="earlier turns the model sees (0: none)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    return sft_main(args) if args.command == "sft" else talk_main(args)


if __name__ == "__main__":
    sys.exit(main())
