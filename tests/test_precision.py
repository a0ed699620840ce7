"""Mixed precision by device: bf16 where the GPU has it natively, float16 with a gradient scaler on older CUDA
GPUs (Colab's T4), float32 on the CPU and MPS. The CUDA cases run on the CPU by faking the compute capability."""
import pytest
import torch
import torch.nn.functional as F

from ssl_helpers import train
from ssl_helpers.train import Precision, fit, pick_precision


@pytest.mark.parametrize("capability, gpu, expected", [
    ((7, 0), "V100", torch.float16),
    ((7, 5), "T4 (Colab's free GPU)", torch.float16),
    ((8, 0), "A100", torch.bfloat16),
    ((8, 6), "RTX 3090", torch.bfloat16),
    ((9, 0), "H100 / H200", torch.bfloat16),
])
def test_precision_follows_the_compute_capability(monkeypatch, capability, gpu, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    dtype, scaler = pick_precision(torch.device("cuda"))
    assert dtype == expected, gpu
    if expected == torch.float16:  # float16 underflows small gradients: it needs a loss scaler
        assert scaler is not None and hasattr(scaler, "scale") and hasattr(scaler, "unscale_")
    else:  # bf16 has float32's exponent range: no scaler
        assert scaler is None


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_cpu_and_mps_train_in_float32(device):
    assert pick_precision(device) == Precision(None, None)
    assert pick_precision(device).name == "float32"


def test_forced_modes_and_a_bad_one():
    assert pick_precision("cpu", "bfloat16") == (torch.bfloat16, None)
    dtype, scaler = pick_precision("cpu", "float16")
    assert dtype == torch.float16 and scaler is not None
    assert pick_precision("cuda", "float32") == (None, None)  # no GPU query when the mode is forced
    with pytest.raises(ValueError, match="precision must be one of .*'auto'.*got 'fp8'"):
        pick_precision("cpu", "fp8")


def linear_run(**options):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x = torch.randn(128, 4, generator=torch.Generator().manual_seed(1))
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    seen = []

    def loss_fn(batch):
        out = model(batch[0])
        seen.append(out.dtype)
        return F.mse_loss(out.float(), batch[1])

    history = fit(loss_fn, model, (x, y), epochs=30, batch_size=32, lr=0.2, weight_decay=0.0, progress=False,
                  **options)
    return history, set(seen)


def test_fit_runs_the_loss_under_the_chosen_autocast():
    history, seen = linear_run(precision="bfloat16")  # CPU autocast supports bf16
    assert seen == {torch.bfloat16}
    assert history["loss"].iloc[-1] < 0.05 * history["loss"].iloc[0]
    _, seen = linear_run()  # "auto" on the CPU: float32, no autocast
    assert seen == {torch.float32}


def test_fit_float16_goes_through_the_gradient_scaler(monkeypatch):
    """The float16 path: scale(loss).backward(), scaler.step(opt), scaler.update(), once per step. On the CPU a
    CPU scaler stands in for CUDA's (same class, same calls)."""
    calls = []

    class RecordingScaler(torch.amp.GradScaler):
        def step(self, optimizer, *args, **kwargs):
            calls.append("step")
            return super().step(optimizer, *args, **kwargs)

    monkeypatch.setattr(train, "_grad_scaler", lambda device_type: RecordingScaler("cpu", init_scale=2.0 ** 8))
    history, seen = linear_run(precision="float16")
    assert seen == {torch.float16}
    assert len(calls) == 30 * 4  # 30 epochs of 4 steps
    assert history["loss"].iloc[-1] < 0.05 * history["loss"].iloc[0]


def test_simclr_loss_amp_is_a_no_op_on_the_cpu():
    from ssl_helpers.models import SmallCNN
    from ssl_helpers.simclr import SimCLR, simclr_loss

    torch.manual_seed(0)
    model = SimCLR(SmallCNN(width=4), hidden_dim=8, out_dim=4).eval()
    x_a, x_b = torch.rand(2, 6, 3, 8, 8)
    assert torch.equal(simclr_loss(model, x_a, x_b, amp=True), simclr_loss(model, x_a, x_b, amp=False))


def registered_methods():
    from ssl_helpers.methods import method_names

    return method_names()


@pytest.mark.parametrize("name", registered_methods())
def test_every_method_trains_under_mixed_precision(name, digits):
    """Each registered method's step under autocast (bf16 on the CPU standing in for a GPU's bf16 or float16):
    no dtype clash between half-precision activations and float32 buffers (queues, targets), a finite loss."""
    from ssl_helpers.methods import make_method, pretrain

    method = make_method(name)
    images = digits[0].images[:48]
    if images.shape[-1] != method.image_size:
        images = F.interpolate(images, size=(method.image_size, method.image_size), mode="bilinear")
    _, history = pretrain(method, images, epochs=1, batch_size=16, width=4, progress=False, precision="bfloat16")
    assert torch.isfinite(torch.tensor(history["loss"].tolist())).all()
