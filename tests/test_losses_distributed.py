"""NT-Xent across processes: 2 CPU processes on the gloo backend give the single-process loss and gradients.

Each process holds half of a batch of N pairs. The gathered loss must equal `nt_xent` on the concatenated
batch; the gradient on each process's embeddings must be W times that loss's gradient (so that DDP's
average over W processes is exactly right), and a real DistributedDataParallel model must end up with the
single-process parameter gradients.
"""
import os
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

from ssl_helpers.losses import nt_xent

from gloo import spawn_gloo

WORLD = 2
PAIRS_PER_PROCESS = 3
IN_DIM, DIM, TEMPERATURE = 5, 4, 0.3
TIMEOUT_S = 90


def batch():
    """The whole batch: inputs x_a, x_b (W n, IN_DIM), embeddings z_a, z_b (W n, DIM), a seeded Linear model."""
    generator = torch.Generator().manual_seed(0)
    rows = WORLD * PAIRS_PER_PROCESS
    x_a, x_b = torch.randn(rows, IN_DIM, generator=generator), torch.randn(rows, IN_DIM, generator=generator)
    z_a, z_b = torch.randn(rows, DIM, generator=generator), torch.randn(rows, DIM, generator=generator)
    torch.manual_seed(1)
    return x_a, x_b, z_a, z_b, torch.nn.Linear(IN_DIM, DIM)


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=TIMEOUT_S))
    try:
        x_a, x_b, z_a, z_b, model = batch()
        mine = slice(rank * PAIRS_PER_PROCESS, (rank + 1) * PAIRS_PER_PROCESS)
        result = {}

        a, b = z_a[mine].clone().requires_grad_(True), z_b[mine].clone().requires_grad_(True)
        loss = nt_xent(a, b, TEMPERATURE, gather=True)            # the views of both processes
        loss.backward()
        result.update(loss=loss.item(), grad_a=a.grad, grad_b=b.grad,
                      local_loss=nt_xent(z_a[mine], z_b[mine], TEMPERATURE, gather=False).item())

        ddp = torch.nn.parallel.DistributedDataParallel(model)
        out = ddp(torch.cat([x_a[mine], x_b[mine]]))
        nt_xent(out, temperature=TEMPERATURE, gather=True).backward()  # the stacked (2n, D) form
        result.update(weight_grad=model.weight.grad, bias_grad=model.bias.grad)

        try:                                                       # unequal batches: a clear error everywhere
            nt_xent(torch.randn(2 + rank, DIM), torch.randn(2 + rank, DIM), TEMPERATURE, gather=True)
        except ValueError as error:
            result["unequal_error"] = str(error)
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("nt_xent_gloo")
    return spawn_gloo(_worker, out_dir, WORLD, TIMEOUT_S + 30)


@pytest.fixture(scope="module")
def single():
    """The single-process loss and gradients on the concatenated batch."""
    x_a, x_b, z_a, z_b, model = batch()
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    loss = nt_xent(z_a, z_b, TEMPERATURE)
    loss.backward()
    rows = WORLD * PAIRS_PER_PROCESS
    out = model(torch.cat([x_a, x_b]))
    nt_xent(out[:rows], out[rows:], TEMPERATURE).backward()
    return {"loss": loss.item(), "grad_a": z_a.grad, "grad_b": z_b.grad, "weight_grad": model.weight.grad,
            "bias_grad": model.bias.grad, "z_a": z_a.detach(), "z_b": z_b.detach()}


def test_every_process_gets_the_single_process_loss_on_the_concatenated_batch(results, single):
    for result in results:
        assert result["loss"] == pytest.approx(single["loss"], abs=1e-6)


def test_gradients_on_each_process_are_world_times_the_single_process_gradients(results, single):
    for rank, result in enumerate(results):
        mine = slice(rank * PAIRS_PER_PROCESS, (rank + 1) * PAIRS_PER_PROCESS)
        torch.testing.assert_close(result["grad_a"] / WORLD, single["grad_a"][mine])
        torch.testing.assert_close(result["grad_b"] / WORLD, single["grad_b"][mine])


def test_ddp_parameter_gradients_equal_the_single_process_gradients(results, single):
    for result in results:
        torch.testing.assert_close(result["weight_grad"], single["weight_grad"])
        torch.testing.assert_close(result["bias_grad"], single["bias_grad"])


def test_gather_false_keeps_the_loss_local(results, single):
    for rank, result in enumerate(results):
        mine = slice(rank * PAIRS_PER_PROCESS, (rank + 1) * PAIRS_PER_PROCESS)
        expected = nt_xent(single["z_a"][mine], single["z_b"][mine], TEMPERATURE).item()
        assert result["local_loss"] == pytest.approx(expected, abs=1e-6)
        assert result["local_loss"] != pytest.approx(single["loss"], abs=1e-3)


def test_unequal_batch_sizes_across_processes_raise_a_clear_error(results):
    for result in results:
        assert "same shape" in result.get("unequal_error", "")
