"""The vision plugin: the CIFAR-100 loader on archives in the exact official format, the
hierarchical CNN's shapes, the label-hierarchy masking, the batched ensemble against members
trained alone, sibling cells sharing one pass, and the quick study end to end."""

from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, run_cli
from workbench import Bundle, CellContext, DataCorruptError, DataNotFoundError, Table, tensorfile
from workbench_hierarchy.curriculum import LabelHierarchy
from workbench_vision import cifar_format
from workbench_vision.datasets import Cifar100
from workbench_vision.ensemble import CnnEnsemble, TrainingSettings
from workbench_vision.models import HierarchicalCnnModel
from workbench_vision.network import HierarchicalCnn

QUICK = REPO / "studies" / "quick" / "cifar100.yaml"
FULL = REPO / "studies" / "cifar100_curriculum.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def context(tmp_path, seed=0, **kwargs) -> CellContext:
    return CellContext.standalone(seed, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", work_dir=tmp_path / "cell", **kwargs)


def known_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 100, size=n)


# -- the loader ------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [False, True], ids=["archive", "extracted-folder"])
def test_loader_round_trips_pixels_and_labels_of_the_official_format(tmp_path, folder):
    images = {"train": known_images(30, 1), "test": known_images(20, 2)}
    name = cifar_format.FOLDER if folder else cifar_format.ARCHIVE
    path = cifar_format.write_archive(tmp_path / "data" / "cifar100" / name, images=images, folder=folder)
    if not folder:  # the archive holds exactly the official member names
        with tarfile.open(path) as archive:
            assert sorted(archive.getnames()) == ["cifar-100-python/meta", "cifar-100-python/test", "cifar-100-python/train"]
    # Found in the data directory (no path given); md5 off because this is not the real archive.
    bundle = Cifar100({"md5": None, "normalise": False, "validation_fraction": 0.25}).load(context(tmp_path))
    pixels, fine = images["train"]
    np.testing.assert_allclose(bundle.train.inputs * 255.0, pixels.astype(np.float32), atol=1e-3)
    assert bundle.train.inputs.dtype == np.float32 and bundle.train.inputs.shape == (30, 3, 32, 32)
    np.testing.assert_array_equal(bundle.train.targets["fine"], fine)
    np.testing.assert_array_equal(bundle.train.targets["coarse"], cifar_format.COARSE_OF_FINE[fine])
    # Validation and test partition the official test set, 5 and 15 of 20, each with its labels.
    validation, test = bundle.validation, bundle.evaluations["test"]
    assert (len(validation), len(test)) == (5, 15)
    official = np.concatenate([validation.samples["official_index"], test.samples["official_index"]])
    assert sorted(official) == list(range(20))
    np.testing.assert_array_equal(test.targets["fine"], images["test"][1][test.samples["official_index"]])
    np.testing.assert_allclose(test.inputs * 255.0, images["test"][0][test.samples["official_index"]], atol=1e-3)
    assert bundle.targets["fine"].parent == "coarse" and bundle.targets["fine"].classes[0] == "apple"
    assert bundle.targets["coarse"].n_classes == 20 and bundle.targets["fine"].n_classes == 100


def test_known_superclasses_and_normalisation(tmp_path):
    names = dict(zip(cifar_format.FINE_NAMES, cifar_format.COARSE_OF_FINE))
    assert cifar_format.COARSE_NAMES[names["maple_tree"]] == "trees"
    assert cifar_format.COARSE_NAMES[names["lawn_mower"]] == "vehicles_2"
    assert cifar_format.COARSE_NAMES[names["keyboard"]] == "household_electrical_devices"
    cifar_format.write_archive(tmp_path / "data" / "cifar100" / cifar_format.ARCHIVE, n_train=200, n_test=40)
    bundle = Cifar100({"md5": None}).load(context(tmp_path))
    np.testing.assert_allclose(bundle.train.inputs.mean(axis=(0, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(bundle.train.inputs.std(axis=(0, 2, 3)), 1.0, atol=1e-4)
    # the decoded arrays were cached, keyed by the file
    assert len(list((tmp_path / "cache" / "cifar100-decoded").glob("*.npz"))) == 1


def test_the_official_checksum_refuses_another_archive(tmp_path):
    path = cifar_format.write_archive(tmp_path / "data" / "cifar100" / cifar_format.ARCHIVE, n_train=10, n_test=10)
    with pytest.raises(DataCorruptError, match=f"expected {cifar_format.MD5}") as error:
        Cifar100().load(context(tmp_path))
    assert "md5" in str(error.value) and str(path) in str(error.value)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b not really a gzip stream")
    with pytest.raises(DataCorruptError, match="not a readable tar.gz archive"):
        Cifar100({"path": str(garbage), "md5": None}).load(context(tmp_path))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    folder = cifar_format.write_archive(tmp_path / cifar_format.FOLDER, n_train=10, n_test=10, folder=True)

    class Exploit:
        def __reduce__(self):
            return (print, ("this must never run",))

    (folder / "train").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(DataCorruptError, match=r"refusing to load (__builtin__|builtins)\.print"):
        Cifar100({"path": str(folder)}).load(context(tmp_path))


def test_a_missing_archive_says_what_to_download_and_where(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataNotFoundError) as error:
        Cifar100().load(context(tmp_path))
    message = str(error.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz" in message
    assert cifar_format.MD5 in message
    assert str(tmp_path / "data" / "cifar100" / "cifar-100-python.tar.gz") in message
    assert "WORKBENCH_OFFLINE" in message  # the tests never download, and the message says why it did not


# -- the network and the curriculum ------------------------------------------------------------------


def test_network_shapes_follow_the_thesis():
    x = torch.randn(5, 3, 32, 32)
    for direction, fine_in, coarse_in in (("coarse-to-fine", 4096 + 20, 4096), ("fine-to-coarse", 4096, 4096 + 100)):
        net = HierarchicalCnn(direction)
        assert net.features(x).shape == (5, 4096)
        assert [layer.out_features for layer in net.fine_head] == [512, 256, 100]
        assert [layer.out_features for layer in net.coarse_head] == [512, 64, 20]
        assert (net.fine_head[0].in_features, net.coarse_head[0].in_features) == (fine_in, coarse_in)
        assert (net.conv1.out_channels, net.conv2.out_channels, net.conv1.kernel_size) == (32, 64, (3, 3))
        ones = torch.ones(5, 512)
        coarse, fine, fed = net(x, torch.tensor(1.0), ones, ones)
        assert coarse.shape == (5, 20) and fine.shape == (5, 100)
        assert fed.shape == ((5, 20) if direction == "coarse-to-fine" else (5, 100))
        torch.testing.assert_close(fed.sum(1), torch.ones(5))  # a softmax: a prediction, not a label


def tiny_data(n=48, seed=0):
    pixels, fine = cifar_format.synthetic_split(n, seed)
    images = torch.from_numpy((pixels.astype(np.float32) - 128.0) / 64.0)
    return images, torch.from_numpy(cifar_format.COARSE_OF_FINE[fine]), torch.from_numpy(fine)


def test_the_fed_prediction_is_zero_for_the_first_k_epochs_and_fed_after():
    images, coarse, fine = tiny_data()
    curricula = [LabelHierarchy({"direction": "coarse-to-fine", "mask_epochs": k}) for k in (0, 2, 4)]
    engine = CnnEnsemble("coarse-to-fine", [1, 1, 1], curricula, TrainingSettings(batch_size=16))
    fed = np.array([engine.train_epoch(images, coarse, fine, order_seed=3)["fed_abs"] for _ in range(4)])  # (epoch, member)
    np.testing.assert_allclose(fed[:, 0], 1 / 20, rtol=1e-5)  # K=0: the coarse softmax (mean 1/20) every epoch
    assert (fed[:2, 1] == 0).all() and np.allclose(fed[2:, 1], 1 / 20)  # K=2: zeros in epochs 1-2, fed in 3-4
    assert (fed[:, 2] == 0).all()  # K=4 of 4 epochs: never fed (the thesis' baseline)
    # After training, the K=4 member predicts without the feed: its fine head's fed columns
    # were never used, so changing the coarse head leaves its fine prediction unchanged.
    before = engine.predict(images)[1]
    with torch.no_grad():
        for name in ("coarse_head.2.bias", "coarse_head.2.weight"):
            engine.params[name].add_(torch.randn_like(engine.params[name]))
    after = engine.predict(images)[1]
    np.testing.assert_array_equal(before[2], after[2])
    assert np.abs(before[0] - after[0]).max() > 1e-4  # the K=0 member does read the coarse prediction


def test_a_batched_ensemble_matches_members_trained_one_at_a_time():
    images, coarse, fine = tiny_data()
    settings = TrainingSettings(batch_size=16)
    seeds = [11, 12, 13]
    curricula = [LabelHierarchy({"direction": "fine-to-coarse", "mask_epochs": k, "fine_weight": w})
                 for k, w in ((0, 1.0), (1, 1.0), (2, 0.5))]
    together = CnnEnsemble("fine-to-coarse", seeds, curricula, settings)
    for _ in range(2):
        together.train_epoch(images, coarse, fine, order_seed=9)
    coarse_all, fine_all = together.predict(images)
    for m, (seed, curriculum) in enumerate(zip(seeds, curricula)):
        alone = CnnEnsemble("fine-to-coarse", [seed], [curriculum], settings)
        for _ in range(2):
            alone.train_epoch(images, coarse, fine, order_seed=9)
        coarse_one, fine_one = alone.predict(images)
        np.testing.assert_allclose(coarse_all[m], coarse_one[0], atol=1e-5)
        np.testing.assert_allclose(fine_all[m], fine_one[0], atol=1e-5)
    # and the members really differ (own seeds, own curricula)
    assert np.abs(coarse_all[0] - coarse_all[1]).max() > 1e-3


def test_training_resumed_from_a_checkpoint_equals_uninterrupted_training(tmp_path):
    images, coarse, fine = tiny_data()
    curricula = [LabelHierarchy({"direction": "coarse-to-fine", "mask_epochs": 1})]
    straight = CnnEnsemble("coarse-to-fine", [4], curricula, TrainingSettings(batch_size=16))
    for _ in range(2):
        straight.train_epoch(images, coarse, fine, order_seed=2)
    first = CnnEnsemble("coarse-to-fine", [4], curricula, TrainingSettings(batch_size=16))
    first.train_epoch(images, coarse, fine, order_seed=2)
    tensorfile.dump(first.state_dict(), tmp_path / "checkpoint.npz")  # no pickle, as the kernel stores checkpoints
    resumed = CnnEnsemble("coarse-to-fine", [99], curricula, TrainingSettings(batch_size=16))  # other init, overwritten
    resumed.load_state_dict(tensorfile.load(tmp_path / "checkpoint.npz"))
    resumed.train_epoch(images, coarse, fine, order_seed=2)
    for a, b in zip(straight.predict(images), resumed.predict(images)):
        np.testing.assert_array_equal(a, b)


# -- the model component: sibling cells share one pass -------------------------------------------


def cifar_bundle() -> Bundle:
    def table(n, seed):
        images, coarse, fine = tiny_data(n, seed)
        return Table(images.numpy(), {"coarse": coarse.numpy(), "fine": fine.numpy()})

    targets = Cifar100().describe_targets()
    return Bundle(train=table(48, 1), validation=table(16, 2), evaluations={"test": table(20, 3)}, targets=targets)


@pytest.mark.parametrize("stack", ["always", "never"])
def test_sibling_cells_fitted_together_equal_each_cell_fitted_alone(tmp_path, stack):
    bundle = cifar_bundle()
    test = bundle.evaluations["test"]
    settings = {"epochs": 2, "batch_size": 16, "stack_members": stack}
    curricula = [LabelHierarchy({"direction": d, "mask_epochs": k}) for d in ("coarse-to-fine", "fine-to-coarse") for k in (1, 0)]
    contexts = [context(tmp_path / f"member{i}", seed=5, target="coarse", targets=bundle.targets, curriculum=c)
                for i, c in enumerate(curricula)]
    fitted = HierarchicalCnnModel(settings).fit_group(bundle.train, contexts)
    assert len(fitted) == 4
    for member, (curriculum, ctx, model) in enumerate(zip(curricula, contexts, fitted)):
        fed = [r["value"] for r in ctx.records if r["metric"] == "fed_mean_abs"]
        assert len(fed) == 2  # each member's epochs are recorded in its own cell
        assert (fed[0] == 0.0) == (curriculum.params.mask_epochs == 1) and fed[1] > 0
        alone_ctx = context(tmp_path / f"alone{member}", seed=5, target="coarse", targets=bundle.targets, curriculum=curriculum)
        alone = HierarchicalCnnModel({"epochs": 2, "batch_size": 16})
        alone.fit(bundle.train, alone_ctx)
        expected, got = alone.predict(test), model.predict(test)
        for target in ("coarse", "fine"):
            np.testing.assert_allclose(got[target], expected[target], atol=1e-5)
            assert got[target].shape == (20, 20 if target == "coarse" else 100)


def test_a_group_pass_resumes_from_the_first_members_checkpoint(tmp_path, monkeypatch):
    bundle = cifar_bundle()
    test = bundle.evaluations["test"]
    curricula = [LabelHierarchy({"direction": "coarse-to-fine", "mask_epochs": k}) for k in (0, 1)]
    settings = {"epochs": 2, "batch_size": 16, "stack_members": "always"}

    def contexts(root):
        return [context(root / f"m{i}", seed=3, target="coarse", targets=bundle.targets, curriculum=c) for i, c in enumerate(curricula)]

    straight = HierarchicalCnnModel(settings).fit_group(bundle.train, contexts(tmp_path / "a"))
    calls = []
    original = CnnEnsemble.train_epoch

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during epoch 2, after epoch 1's checkpoint
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CnnEnsemble, "train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        HierarchicalCnnModel(settings).fit_group(bundle.train, contexts(tmp_path / "b"))
    monkeypatch.setattr(CnnEnsemble, "train_epoch", original)
    resumed_contexts = contexts(tmp_path / "b")
    assert resumed_contexts[0].load_checkpoint()["engine"]["epochs_done"] == 1
    resumed = HierarchicalCnnModel(settings).fit_group(bundle.train, resumed_contexts)
    for a, b in zip(straight, resumed):
        for target in ("coarse", "fine"):
            np.testing.assert_array_equal(a.predict(test)[target], b.predict(test)[target])


# -- studies -----------------------------------------------------------------------------------------


def test_the_full_study_validates():
    result = run_cli("validate", str(FULL))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "720 cells" in result.stdout


def test_quick_study_end_to_end(tmp_path):
    cifar_format.write_archive(tmp_path / "data" / "cifar100" / cifar_format.ARCHIVE, n_train=400, n_test=400)
    result = run_cli("run", str(QUICK), "--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"),
                     "--runs-root", str(tmp_path / "runs"), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = list((tmp_path / "runs" / "cifar100").iterdir())
    results = pd.read_csv(run_dir / "results.csv", keep_default_na=False, na_values=[""])
    final = results[(results["step_name"].fillna("") == "") & (results["evaluation"] == "test")]
    table = final.pivot_table(index="cell", columns="metric", values="value")
    assert len(table) == 8
    assert (table["fine-top1"] <= table["fine-top3"]).all() and (table["fine-top3"] <= table["fine-top5"]).all()
    assert (table["fine-top5"] <= table["fine-top10"]).all()
    # The synthetic classes are learnable: coarse accuracy far above chance (1/20) at 150 images.
    coarse = final[final["metric"] == "coarse-accuracy"].groupby("train_size")["value"].mean()
    assert coarse.loc[150] > 0.15
    # The fed prediction is zero in epoch 1 exactly for K=1 cells.
    fed = results[(results["metric"] == "fed_mean_abs") & (results["step"] == 1)]
    masked = fed["curriculum.with.mask_epochs"].astype(str) == "1"
    assert (fed[masked]["value"] == 0).all() and (fed[~masked]["value"] > 0).all()
    assert sorted(p.name for p in (run_dir / "figures").glob("*.png")) == ["coarse-accuracy.png", "fine-top3.png"]
    # One shared pass per training size: the four curricula of a size share a cell seed, and the
    # kernel handed them to the model together.
    seeds = final.groupby("train_size")["seed"].nunique()
    assert (seeds == 1).all()
    assert (run_dir / "run.log").read_text().count("(4 cells together)") == 2
