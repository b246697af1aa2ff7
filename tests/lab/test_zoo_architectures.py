"""The zoo's newer architectures: shapes, normalisation layers, and ONNX exports that match."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bdscan_lab.zoo.architectures import (  # noqa: E402
    ARCHITECTURES,
    BATCHNORM_ARCHITECTURES,
    make_model,
)

NEW = ["mobilenet", "vgg_bn", "resnet14w", "senet", "gn_resnet", "vit"]


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("arch", NEW)
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_gives_one_logit_row_per_image(arch: str, channels: int) -> None:
    torch.manual_seed(0)
    model = make_model(arch, in_channels=channels, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(5, channels, 28, 28))
    assert out.shape == (5, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", NEW)
def test_a_training_step_reaches_every_parameter(arch: str) -> None:
    torch.manual_seed(0)
    model = make_model(arch).train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 1, 28, 28)), torch.arange(8))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_batchnorm_set_matches_the_modules() -> None:
    for arch in ARCHITECTURES:
        model = make_model(arch)
        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
        assert has_bn == (arch in BATCHNORM_ARCHITECTURES), arch
    gn = make_model("gn_resnet")
    assert any(isinstance(m, torch.nn.GroupNorm) for m in gn.modules())
    vit = make_model("vit")
    assert not any(
        isinstance(m, torch.nn.Conv2d) and m.kernel_size != (4, 4) for m in vit.modules()
    )


def test_eval_output_does_not_depend_on_the_batch() -> None:
    # BatchNorm in eval mode uses running statistics: one image alone gets the same logits.
    for arch in NEW:
        torch.manual_seed(0)
        model = make_model(arch).eval()
        x = torch.randn(6, 1, 28, 28)
        with torch.no_grad():
            together = model(x)
            alone = torch.cat([model(x[i : i + 1]) for i in range(6)])
        assert torch.allclose(together, alone, atol=1e-5), arch


def test_vit_refuses_a_size_its_patches_do_not_tile() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        make_model("vit", size=30)


@pytest.mark.parametrize("arch", NEW)
@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_export_matches_pytorch_in_onnxruntime(tmp_path, arch: str, exporter: str) -> None:
    import onnxruntime as ort

    from bdscan_lab.zoo.export import ConventionWrapper, export_model, get_convention, model_input

    torch.manual_seed(1)
    core = make_model(arch)
    # A few training-mode passes move BatchNorm's running statistics off their initial 0 / 1.
    core.train()
    with torch.no_grad():
        for _ in range(3):
            core(torch.randn(16, 1, 28, 28) * 1.5 + 0.2)
    pixels = _images(16)
    path = tmp_path / f"{arch}.onnx"
    check = export_model(
        core, path, "nchw", mean=(0.3,), std=(0.3,), verify_pixels=pixels, exporter=exporter
    )
    # export_model itself refuses a mismatch; check its figures and run the file independently.
    assert check.label_agreement == 1.0 and check.max_abs_diff < 1e-3
    conv = get_convention("nchw")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = model_input(pixels, conv, (0.3,), (0.3,))
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: x})
    wrapper = ConventionWrapper(core.eval(), conv, (0.3,), (0.3,)).eval()
    with torch.no_grad():
        expected = wrapper(torch.from_numpy(x)).numpy()
    assert logits.shape == (16, 10)
    assert np.abs(logits - expected).max() < 1e-3
