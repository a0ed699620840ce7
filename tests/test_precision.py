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


def test_precision_in_lightnings_words():
    assert pick_precision("cpu").lightning == "32-true"
    assert pick_precision("cpu", "bfloat16").lightning == "bf16-mixed"
    assert pick_precision("cpu", "float16").lightning == "16-mixed"
    for mode, expected in [("float32", "32-true"), ("bfloat16", "bf16-mixed")]:
        assert train.make_trainer(epochs=1, device=torch.device("cpu"), precision=mode, progress=False).precision \
            == expected


@pytest.mark.filterwarnings("ignore:.*AMP with fp16 is not supported on CPU.*")
def test_float16_asked_for_on_the_cpu_runs_in_bfloat16():
    """The CPU has no float16 autocast: Lightning runs "16-mixed" there as "bf16-mixed" (and says so)."""
    assert train.make_trainer(epochs=1, device=torch.device("cpu"), precision="float16",
                              progress=False).precision == "bf16-mixed"
    _, seen = linear_run(precision="float16")
    assert seen == {torch.bfloat16}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 autocast with a gradient scaler needs CUDA")
def test_fit_float16_goes_through_the_gradient_scaler(monkeypatch):
    """The float16 path on a GPU: scale(loss).backward(), scaler.step(opt), scaler.update(), once per step
    (Lightning's `MixedPrecision` plugin with its `GradScaler`)."""
    calls = []
    original = torch.amp.GradScaler.step

    def step(self, optimizer, *args, **kwargs):
        calls.append("step")
        return original(self, optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.amp.GradScaler, "step", step)
    history, seen = linear_run(precision="float16", device="cuda")
    assert seen == {torch.float16}
    assert len(calls) == 30 * 4  # 30 epochs of 4 steps
    assert history["loss"].iloc[-1] < 0.05 * history["loss"].iloc[0]


def test_simclr_auto_precision_is_a_no_op_on_the_cpu():
    """precision="auto" on the CPU is float32: the same SimCLR run, bit for bit, as precision="float32"."""
    from ssl_helpers.methods import make_method, pretrain

    x = torch.rand(32, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    runs = []
    for precision in ("auto", "float32"):
        method = make_method("simclr", hidden_dim=8, out_dim=4)
        encoder, history = pretrain(method, x, epochs=2, batch_size=16, width=4, device="cpu", progress=False,
                                    precision=precision)
        runs.append((history["loss"].tolist(), [p.detach().clone() for p in encoder.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


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
    if images.shape[-1] != method.spec.image_size:
        images = F.interpolate(images, size=(method.spec.image_size, method.spec.image_size), mode="bilinear")
    _, history = pretrain(method, images, epochs=1, batch_size=16, width=4, progress=False, precision="bfloat16")
    assert torch.isfinite(torch.tensor(history["loss"].tolist())).all()
