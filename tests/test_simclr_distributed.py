"""SimCLR across processes: 2 CPU processes on gloo, DistributedDataParallel plus the cross-process NT-Xent.

1. Two SGD steps of `simclr_loss` under DDP, each process holding half of the batch of views, end with the
   same parameters as one process that runs each half through the network separately (BatchNorm statistics
   are per process, as without SyncBatchNorm) and takes NT-Xent over the whole batch.
2. The command-line entry point runs end to end under the same 2 processes and writes one checkpoint.
"""
import os
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

from ssl_helpers.losses import nt_xent
from ssl_helpers.models import SmallCNN
from ssl_helpers.simclr import SimCLR, simclr_loss

from gloo import spawn_gloo

WORLD, PAIRS, SIZE, STEPS, TEMPERATURE, LR = 2, 4, 8, 2, 0.5, 0.1
TIMEOUT_S = 120


def make_model():
    torch.manual_seed(0)
    return SimCLR(SmallCNN(width=4), hidden_dim=16, out_dim=8)


def views(step):
    """The global batch of step `step`: (W * PAIRS, 3, SIZE, SIZE) twice."""
    g = torch.Generator().manual_seed(step)
    return (torch.rand(WORLD * PAIRS, 3, SIZE, SIZE, generator=g),
            torch.rand(WORLD * PAIRS, 3, SIZE, SIZE, generator=g))


def single_process_parameters():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for step in range(STEPS):
        x_a, x_b = views(step)
        z = [model(torch.cat([x_a[r * PAIRS:(r + 1) * PAIRS], x_b[r * PAIRS:(r + 1) * PAIRS]]))
             for r in range(WORLD)]  # one forward per "process": per-process BatchNorm statistics
        loss = nt_xent(torch.cat([zr[:PAIRS] for zr in z]), torch.cat([zr[PAIRS:] for zr in z]), TEMPERATURE)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in model.named_parameters()}


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=TIMEOUT_S))
    try:
        model = make_model()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=LR)
        losses = []
        for step in range(STEPS):
            x_a, x_b = views(step)
            mine = slice(rank * PAIRS, (rank + 1) * PAIRS)
            loss = simclr_loss(ddp, x_a[mine], x_b[mine], TEMPERATURE)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        result = {"parameters": {k: v.detach() for k, v in model.named_parameters()}, "losses": losses}

        from ssl_helpers.cli import train_from_args  # the torchrun path, here on gloo

        out = os.path.join(out_dir, "simclr_digits.pt")
        run = train_from_args(["--dataset", "digits", "--arch", "small_cnn", "--width", "4", "--image-size", "8",
                               "--epochs", "1", "--batch-size", "16", "--limit", "64", "--monitor", "50",
                               "--hidden-dim", "16", "--out-dim", "8", "--out", out, "--quiet"])
        result["cli_parameters"] = {k: v.detach() for k, v in run["model"].named_parameters()}
        result["cli_checkpoint"] = str(run.get("checkpoint", ""))
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("simclr_gloo")
    return spawn_gloo(_worker, out_dir, WORLD, TIMEOUT_S + 30, weights_only=False), out_dir


def test_ddp_steps_match_the_single_process_run(results):
    ranks, _ = results
    reference = single_process_parameters()
    for result in ranks:
        for name, value in reference.items():
            torch.testing.assert_close(result["parameters"][name], value, atol=1e-5, rtol=1e-4, msg=name)
    assert ranks[0]["losses"] == pytest.approx(ranks[1]["losses"])  # the global loss, the same everywhere


def test_the_command_line_trains_under_two_processes(results):
    ranks, out_dir = results
    assert ranks[0]["cli_checkpoint"] == str(out_dir / "simclr_digits.pt") and ranks[1]["cli_checkpoint"] == ""
    assert (out_dir / "simclr_digits.pt").is_file()
    for name, value in ranks[0]["cli_parameters"].items():  # DDP keeps the replicas identical
        torch.testing.assert_close(ranks[1]["cli_parameters"][name], value)
