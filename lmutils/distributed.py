"""Data-parallel training: one process per GPU, started by torchrun, joined by torch.distributed.

Each process holds a copy of the model, trains it on its own random batches, and DistributedDataParallel
averages the gradients across processes in the backward pass, so the copies stay identical.
"""

import os

import torch
import torch.distributed as dist

from .device import pick_device


def world() -> tuple[int, int]:
    """(rank, world_size) of this process: (0, 1) unless torch.distributed was initialised (torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def start_processes(device_name: str | None) -> tuple[torch.device, int, int]:
    """Pick the device and, when started by torchrun (WORLD_SIZE > 1), join the process group:
    NCCL between GPUs (process i on GPU i of its machine), gloo between CPU processes.
    Returns (device, rank, world_size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if world_size == 1:
        return device, 0, 1
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "mps":
        raise ValueError("torch.distributed cannot use Apple's MPS: run one process, or --device cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"process {local_rank} has no GPU of its own: this machine has "
                             f"{torch.cuda.device_count()}; start at most that many (--nproc_per_node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank(), world_size


def split_batch(batch_size: int, grad_accum: int, world_size: int) -> tuple[int, int]:
    """(batch_size, grad_accum) of one process, so that the processes together train on the batch one
    process would: batch_size × grad_accum sequences per optimizer step, whatever the number of processes.
    As in nanoGPT, the micro-batches are shared out (grad_accum / world_size each); where grad_accum is not
    a multiple of world_size, each micro-batch is shared out instead (batch_size / world_size sequences)."""
    if grad_accum % world_size == 0:
        return batch_size, grad_accum // world_size
    if batch_size % world_size == 0:
        return batch_size // world_size, grad_accum
    raise ValueError(f"batch_size={batch_size} × grad_accum={grad_accum} sequences per step cannot be shared out "
                     f"evenly among {world_size} processes: make grad_accum or batch_size a multiple of "
                     f"{world_size} (e.g. --grad-accum {world_size * grad_accum})")


def ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """model wrapped in DistributedDataParallel, on this process's GPU (or on the CPU, with gloo)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def gather(obj) -> list:
    """Every process's obj, in rank order (a collective: every process must call it)."""
    objs = [None] * dist.get_world_size()
    dist.all_gather_object(objs, obj)
    return objs


def agree(flag: bool) -> bool:
    """Rank 0's flag, in every process (a collective: every process must call it)."""
    t = torch.tensor([float(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.broadcast(t, src=0)
    return bool(t.item())


def parameter_spread(model: torch.nn.Module) -> float:
    """The largest difference between any process's parameters and rank 0's (0.0 when the processes
    stayed in step, as data-parallel training must keep them)."""
    flat = torch.cat([p.detach().flatten().double() for p in model.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    spread = (flat - ref).abs().max()
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    return spread.item()
