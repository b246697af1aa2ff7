"""Training recipes and the zoo's plan (issue 19): every recipe trains, augmentation moves pixels
as documented, recipes are recorded and keyed, and the full set has the size and balance the
issue asks for. Nothing here trains a zoo model; the recipes train an MLP on 300 samples."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bdscan_lab.zoo import build as zb  # noqa: E402
from bdscan_lab.zoo.__main__ import SET_NAMES  # noqa: E402
from bdscan_lab.zoo.__main__ import main as zoo_main  # noqa: E402
from bdscan_lab.zoo.architectures import make_model  # noqa: E402
from bdscan_lab.zoo.recipes import RECIPES, Recipe, get_recipe  # noqa: E402
from bdscan_lab.zoo.train import MAX_SHIFT, TrainConfig, _augment, train_model  # noqa: E402
from tests.conftest import EXAMPLES  # noqa: E402


@pytest.fixture(scope="module")
def fmnist300() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(EXAMPLES / "data" / "fmnist_clean.npz")
    return d["x"], d["y"].astype(np.int64)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_lowers_the_training_loss(
    name: str, fmnist300: tuple[np.ndarray, ...]
) -> None:
    x, y = fmnist300
    recipe = replace_epochs(get_recipe(name), 8)
    torch.manual_seed(0)
    model = make_model("mlp")  # learns in a few steps under every optimiser, unlike a tiny CNN
    before = _loss(model, x, y)
    config = TrainConfig.from_recipe(recipe, recipe.epochs_for(8))
    train_model(model, x, y, mean=(0.286,), std=(0.353,), config=config, seed=0)
    after = _loss(model, x, y)
    # A broken optimiser, schedule or augmentation leaves the loss where it started.
    assert after < 0.9 * before, (name, before, after)


@torch.no_grad()
def _loss(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    from bdscan_lab.zoo.train import to_tensor

    model.eval()
    logits = model(to_tensor(x, (0.286,), (0.353,)))
    return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)))


def replace_epochs(recipe: Recipe, epochs: int) -> Recipe:
    """The recipe at a test-sized epoch count (the long one's 30 would take too long)."""
    from dataclasses import replace

    return replace(recipe, epochs=epochs, batch_size=32)


def test_shift_moves_whole_images_by_at_most_two_pixels_edges_repeated() -> None:
    x = torch.arange(3 * 1 * 6 * 6, dtype=torch.float32).reshape(3, 1, 6, 6)
    out = _augment(x, ("shift",), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    pad = torch.nn.functional.pad(x, (MAX_SHIFT,) * 4, mode="replicate")
    for i in range(3):
        windows = [
            pad[i, :, dy : dy + 6, dx : dx + 6]
            for dy in range(2 * MAX_SHIFT + 1)
            for dx in range(2 * MAX_SHIFT + 1)
        ]
        assert any(torch.equal(out[i], w) for w in windows)


def test_flip_mirrors_some_samples_and_leaves_the_others() -> None:
    x = torch.arange(64 * 4, dtype=torch.float32).reshape(64, 1, 2, 2)
    out = _augment(x, ("flip",), torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54


def test_unknown_augmentation_and_recipe_are_refused() -> None:
    with pytest.raises(ValueError, match="augmentation"):
        Recipe("bad", augment=("rotate90",))
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("nope")


def test_default_recipe_keeps_the_keys_of_models_built_before_recipes() -> None:
    spec = zb.spec_by_name("cnn_clean_s0")
    assert spec.recipe == "default"
    # The key this spec had before recipes existed (commit fe179c6): a zoo built then resumes.
    assert spec.key() == "5b1156b88638d307"
    other = zb.ModelSpec(name="x", recipe="sgd_cosine")
    assert other.key() != zb.ModelSpec(name="x").key()
    assert other.effective_epochs == 2 * zb.DEFAULT_EPOCHS[("fmnist", "cnn")]
    assert zb.ModelSpec(name="y", recipe="long").effective_train_size == 4000


def test_a_flipping_recipe_on_digits_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = zb.ModelSpec(name="digits_flip", dataset="mnist", arch="tiny", recipe="adamw_smooth")
    zb.DEFAULT_EPOCHS.setdefault(("mnist", "tiny"), 1)
    with pytest.raises(ValueError, match="flips images"):
        zb.build_model(spec, tmp_path, log=lambda _: None)


def test_list_prints_the_plan_without_training(capsys: pytest.CaptureFixture[str]) -> None:
    assert zoo_main(["build", "--out", "unused", "--set", "full", "--list"]) == 0
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"name", "arch", "recipe", "attack"} <= set(plan[0])
    assert len(plan) >= 120 and len({p["name"] for p in plan}) == len(plan)
    clean = [p for p in plan if p["attack"] is None]
    assert len(clean) >= 0.4 * len(plan)
    recipes_per_arch: dict[str, set[str]] = defaultdict(set)
    for p in clean:
        recipes_per_arch[p["arch"]].add(p["recipe"])
    # Every architecture has clean models from at least three recipes... or, for the four old
    # ones, three clean models of which the new ones bring at least one more recipe.
    counts = {a: sum(p["arch"] == a for p in clean) for a in recipes_per_arch}
    assert all(n >= 3 for n in counts.values()), counts
    new_archs = {"mobilenet", "vgg_bn", "resnet14w", "senet", "gn_resnet", "vit"}
    assert all(len(recipes_per_arch[a]) >= 3 for a in new_archs), recipes_per_arch
    assert all(len(recipes_per_arch[a]) >= 2 for a in recipes_per_arch), recipes_per_arch
    for p in plan:  # every planned attack and architecture exists
        zb.get_specs("full", [p["name"]])
    assert set(SET_NAMES) == set(zb.SETS)


def test_every_planned_spec_resolves_its_attack_and_architecture() -> None:
    from bdscan_lab.zoo.architectures import ARCHITECTURES
    from bdscan_lab.zoo.attacks import make_attack

    for spec in zb.SETS["full"]:
        assert spec.arch in ARCHITECTURES, spec.name
        if spec.backdoored:
            make_attack(spec.attack, **spec.trigger)
        assert (spec.dataset, spec.arch) in zb.DEFAULT_EPOCHS, spec.name
