"""Any method under DDP: 2 CPU processes on gloo, each holding half of a global batch of fixed images.

Each process runs the method's own `step` (its `training_step`) on its half, with the views fixed (a deterministic
augmentation: the images, then mirrored), the method in eval mode (BatchNorm on running statistics, so an
image's embedding does not depend on the batch it is in) and attached to a DDP `lightning.Trainer` of the two
processes (`method.distributed()`: NT-Xent gathers only under such a Trainer, never by itself). Averaged as DistributedDataParallel averages gradients,
the processes must compute what one process computes on the whole batch:

1. SimCLR (contrastive: NT-Xent gathers the views of every process): each process's loss IS the single-process
   loss, and the mean of the processes' gradients is the single-process gradient.
2. BYOL, SimSiam (non-contrastive, no negatives) and MoCo (negatives from the queue): the mean of the two
   processes' losses, and of their gradients, is the single-process loss and gradient.
3. MoCo's `gather_keys` gives both processes the same queue: every process's keys, in rank order.
4. The command line trains a method (BYOL) under the two processes (the torchrun path, here on gloo): the
   replicas stay identical and rank 0 alone writes the checkpoint.
"""
import os
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from gloo import spawn_gloo

from ssl_helpers.methods import make_method

pytestmark = pytest.mark.slow  # two spawned processes importing torch and Lightning, a CLI run in them

WORLD, PER_PROCESS, SIZE, QUEUE = 2, 4, 12, 64
LOSS_METHODS = ("simclr", "byol", "simsiam", "moco")
TIMEOUT_S = 180


def images() -> torch.Tensor:
    """The global batch: (WORLD * PER_PROCESS, 3, SIZE, SIZE); process r holds rows r * PER_PROCESS onwards."""
    return torch.rand(WORLD * PER_PROCESS, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def mine(rank: int) -> slice:
    return slice(rank * PER_PROCESS, (rank + 1) * PER_PROCESS)


class FixedViews:
    """A deterministic stand-in for the method's augmentation: the first view of each pair is the images, the
    second their mirror image (whatever the generator)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, batch, generator=None):
        self.calls += 1
        return batch if self.calls % 2 else batch.flip(-1)


def built(name: str):
    """The method with seeded weights (the same in every process), fixed views, in eval mode."""
    options = {"queue_size": QUEUE} if name == "moco" else {}
    torch.manual_seed(0)
    method = make_method(name, hidden_dim=16, out_dim=8, **options).build((3, SIZE, SIZE), width=4)
    method.augment = FixedViews()
    return method.eval()


def under_ddp(method):
    """The method attached to a `lightning.Trainer` of the WORLD processes (DDP), as `fit` attaches it."""
    import lightning

    method.trainer = lightning.Trainer(accelerator="cpu", devices=WORLD, strategy="ddp", logger=False,
                                       enable_checkpointing=False, enable_progress_bar=False,
                                       enable_model_summary=False)
    assert method.distributed()
    return method


def loss_and_gradients(method, batch) -> dict:
    """The method's own step on `batch`: its loss and the gradient of every trained parameter."""
    method.zero_grad(set_to_none=True)
    loss = method.step(batch)
    loss.backward()
    gradients = {k: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for k, p in method.named_parameters() if p.requires_grad}
    return {"loss": loss.item(), "gradients": gradients}


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(WORLD), SSL_PROGRESS="0")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=TIMEOUT_S))
    try:
        x = images()[mine(rank)]
        result = {name: loss_and_gradients(under_ddp(built(name)), x) for name in LOSS_METHODS}

        moco = under_ddp(built("moco"))  # gathers its keys only under a DDP Trainer (`Method.distributed`)
        loss = moco.step(x)
        moco.on_train_batch_end(loss, (x,), 0)  # after the optimiser step: momentum update, keys queued
        result["queue"] = {"keys": moco.head["queue"].keys.clone(), "pointer": int(moco.head["queue"].pointer)}

        from ssl_helpers.cli import train_from_args  # the torchrun path: the group exists, Lightning's DDP joins it

        out = os.path.join(out_dir, "byol_digits.pt")
        run = train_from_args(["--method", "byol", "--dataset", "digits", "--width", "4", "--epochs", "1",
                               "--batch-size", "16", "--limit", "64", "--monitor", "50", "--out", out, "--quiet",
                               "--device", "cpu"])
        result["cli_parameters"] = {k: v.detach().clone() for k, v in run["method"].named_parameters()}
        result["cli_checkpoint"] = str(run.get("checkpoint", ""))
        result["cli_epochs"] = list(run["history"]["epoch"])
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("methods_gloo")
    return spawn_gloo(_worker, out_dir, WORLD, 2 * TIMEOUT_S, weights_only=False), out_dir


@pytest.fixture(scope="module")
def single():
    """One process, no process group, the whole global batch."""
    return {name: loss_and_gradients(built(name), images()) for name in LOSS_METHODS}


def ddp_average(ranks, name) -> dict:
    """What DDP applies: the mean over processes of each gradient (and, for comparison, of the losses)."""
    gradients = {k: sum(r[name]["gradients"][k] for r in ranks) / WORLD for k in ranks[0][name]["gradients"]}
    return {"loss": sum(r[name]["loss"] for r in ranks) / WORLD, "gradients": gradients}


def assert_same_gradients(got: dict, expected: dict):
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=1e-5, rtol=1e-4, msg=key)


def test_simclr_every_process_gets_the_global_loss_and_ddp_the_global_gradient(results, single):
    ranks, _ = results
    for result in ranks:  # NT-Xent gathered the other process's views: its negatives are the whole global batch
        assert result["simclr"]["loss"] == pytest.approx(single["simclr"]["loss"], rel=1e-5)
    assert_same_gradients(ddp_average(ranks, "simclr")["gradients"], single["simclr"]["gradients"])


def test_simclr_without_the_gather_would_differ(results, single):
    """The check has teeth: each half on its own (NT-Xent without the other process's negatives) differs."""
    alone = [loss_and_gradients(built("simclr"), images()[mine(rank)])["loss"] for rank in range(WORLD)]
    assert all(loss != pytest.approx(single["simclr"]["loss"], rel=1e-3) for loss in alone)


@pytest.mark.parametrize("name", ["byol", "simsiam", "moco"])
def test_the_mean_of_the_processes_losses_and_gradients_is_the_single_process_one(results, single, name):
    ranks, _ = results
    average = ddp_average(ranks, name)
    assert average["loss"] == pytest.approx(single[name]["loss"], rel=1e-5)
    assert abs(ranks[0][name]["loss"] - ranks[1][name]["loss"]) > 1e-5  # the halves really differ
    assert_same_gradients(average["gradients"], single[name]["gradients"])


def test_moco_gather_keys_gives_every_process_the_same_queue(results):
    ranks, _ = results
    first, second = (r["queue"] for r in ranks)
    assert first["pointer"] == second["pointer"] == 2 * WORLD * PER_PROCESS  # both views' keys of both processes
    torch.testing.assert_close(first["keys"], second["keys"])
    method, x = built("moco"), images()
    initial = method.head["queue"].keys.clone()
    with torch.no_grad():  # the keys: the momentum encoder's unit projections of each process's two views
        keys = [F.normalize(method.head["target_projector"](method.head["target_encoder"](
            torch.cat([x[mine(rank)], x[mine(rank)].flip(-1)]))), dim=1) for rank in range(WORLD)]
    queued = 2 * WORLD * PER_PROCESS
    torch.testing.assert_close(first["keys"][:queued], torch.cat(keys), atol=1e-5, rtol=1e-4)  # rank order
    torch.testing.assert_close(first["keys"][queued:], initial[queued:])


def test_the_command_line_trains_under_two_processes(results):
    ranks, out_dir = results
    assert ranks[0]["cli_checkpoint"] == str(out_dir / "byol_digits.pt") and ranks[1]["cli_checkpoint"] == ""
    assert (out_dir / "byol_digits.pt").is_file()
    assert ranks[0]["cli_epochs"] == ranks[1]["cli_epochs"] == [1]
    for name, value in ranks[0]["cli_parameters"].items():  # DDP keeps the replicas identical
        torch.testing.assert_close(ranks[1]["cli_parameters"][name], value, msg=name)
