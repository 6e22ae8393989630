"""Cache, data locator, bundles and atomic writes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from workbench import Bundle, Cache, DataCorruptError, DataLocator, DataNotFoundError, Download, Table, TargetInfo
from workbench.atomic import directory, write_text
from workbench.cache import default_cache_root, digest


def test_cache_computes_once_per_key_and_keys_on_parameters(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    first = cache.arrays("sims", {"n": 3, "dt": 0.1}, compute)
    again = cache.arrays("sims", {"dt": 0.1, "n": 3}, compute)  # key order does not matter
    other = cache.arrays("sims", {"n": 3, "dt": 0.2}, compute)
    assert len(calls) == 2
    np.testing.assert_array_equal(first["x"], again["x"])
    assert other["x"].tolist() == [0, 1, 2]


def test_a_damaged_cache_entry_is_recomputed(tmp_path):
    cache = Cache(tmp_path)
    cache.arrays("a", {"k": 1}, lambda: {"x": np.ones(2)})
    cache.entry("a", {"k": 1}).with_suffix(".npz").write_bytes(b"garbage")
    assert cache.arrays("a", {"k": 1}, lambda: {"x": np.zeros(2)})["x"].tolist() == [0, 0]


def test_cache_directories_appear_only_when_built_completely(tmp_path):
    cache = Cache(tmp_path)

    def fail(scratch):
        (scratch / "half.txt").write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.directory("models", {"m": 1}, fail)
    assert not cache.entry("models", {"m": 1}).exists()
    path = cache.directory("models", {"m": 1}, lambda d: (d / "w.txt").write_text("ok"))
    assert (path / "w.txt").read_text() == "ok" and (path / "key.json").exists()


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("WORKBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "workbench"
    assert digest({"a": 1}) != digest({"a": 2})


def test_data_locator_order_and_messages(tmp_path):
    data = tmp_path / "data"
    (data / "set").mkdir(parents=True)
    (data / "set" / "file.csv").write_text("a\n1\n")
    cache = Cache(tmp_path / "cache")
    locator = DataLocator(data, cache, offline=True)
    assert locator.find("demo", ["set/file.csv"]) == data / "set" / "file.csv"
    explicit = tmp_path / "mine.csv"
    explicit.write_text("b\n")
    assert locator.find("demo", ["set/file.csv"], explicit=explicit) == explicit
    with pytest.raises(DataNotFoundError, match="path given in the study"):
        locator.find("demo", ["set/file.csv"], explicit=tmp_path / "nope.csv")
    with pytest.raises(DataNotFoundError) as caught:
        locator.find("demo", ["other/x.tar.gz"], download=Download("https://example.org/x.tar.gz", "x.tar.gz", md5="0" * 32),
                     how_to_get="Download x.tar.gz from example.org.")
    message = str(caught.value)
    assert str(data / "other" / "x.tar.gz") in message and "WORKBENCH_OFFLINE is set" in message
    assert "Download x.tar.gz from example.org." in message


def test_data_locator_refuses_a_file_with_the_wrong_checksum(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"hello")
    locator = DataLocator(tmp_path, Cache(tmp_path / "cache"), offline=True)
    good = hashlib.sha256(b"hello").hexdigest()
    assert locator.find("demo", ["f.bin"], sha256=good)
    with pytest.raises(DataCorruptError, match="expected sha256 checksum"):
        locator.find("demo", ["f.bin"], sha256="0" * 64)


def test_bundle_subsampling_draws_training_samples_and_keeps_the_evaluation_sets_whole():
    table = Table(np.arange(100)[:, None].astype(float), {"y": np.arange(100.0)})
    bundle = Bundle(table, {"test": table.take(np.arange(40))}, {"y": TargetInfo("regression")}, validation=table.take(np.arange(20)))
    small = bundle.subsample_train(25, np.random.default_rng(0))
    assert (len(small.train), len(small.validation), len(small.evaluations["test"])) == (25, 20, 40)
    assert small.evaluations["test"] is bundle.evaluations["test"] and small.validation is bundle.validation
    assert len(set(small.train.inputs[:, 0])) == 25
    again = bundle.subsample_train(25, np.random.default_rng(0))
    np.testing.assert_array_equal(small.train.inputs, again.train.inputs)


def test_missing_labels_are_dropped_never_made_negative():
    y = np.array([0, 1, np.nan, 1, np.nan])
    table = Table(np.zeros((5, 2)), {"hazard": y})
    bundle = Bundle(table, {"test": table}, {"hazard": TargetInfo("classification", ("no", "yes"))})
    clean = bundle.drop_missing("hazard")
    assert clean.train.targets["hazard"].tolist() == [0, 1, 1]
    assert clean.train.targets["hazard"].dtype == np.int64


def test_atomic_directory_and_text(tmp_path):
    write_text(tmp_path / "a" / "b.txt", "x")
    assert (tmp_path / "a" / "b.txt").read_text() == "x"
    with directory(tmp_path / "final") as scratch:
        (scratch / "inside").write_text("y")
    assert (tmp_path / "final" / "inside").read_text() == "y"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_a_damaged_cache_entry_is_recomputed_not_trusted(tmp_path, damage):
    cache = Cache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(1000.0)}

    cache.arrays("sims", {"n": 1}, compute)
    [entry] = list((tmp_path / "sims").glob("*.npz"))
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # one bit flipped inside the compressed payload: still a valid-looking file
        middle = len(data) // 2
        entry.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:])
    again = cache.arrays("sims", {"n": 1}, compute)
    assert len(calls) == 2 and again["x"].sum() == np.arange(1000.0).sum()


def test_a_damaged_cache_directory_is_rebuilt(tmp_path):
    cache = Cache(tmp_path)
    builds = []

    def build(scratch):
        builds.append(1)
        (scratch / "weights.bin").write_bytes(b"\x01" * 100)

    path = cache.directory("encoders", {"k": 1}, build)
    assert cache.directory("encoders", {"k": 1}, build) == path and len(builds) == 1
    (path / "weights.bin").write_bytes(b"\x01" * 50)  # truncated by a full disk, say
    cache.directory("encoders", {"k": 1}, build)
    assert len(builds) == 2 and (path / "weights.bin").read_bytes() == b"\x01" * 100


def test_the_data_locator_records_every_file_it_finds_with_its_sha256(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "a.csv").write_text("a\n1\n")
    locator = DataLocator(tmp_path, Cache(tmp_path / "cache"), offline=True)
    found = locator.find("demo", ["set/a.csv"])
    assert locator.files_read == {str(found.resolve()): hashlib.sha256(b"a\n1\n").hexdigest()}
    # A changed file gives another digest: cache keys that include it are never reused.
    before = locator.digest(found)
    found.write_text("a\n2\n")
    import os

    os.utime(found, ns=(1, 1))
    assert locator.digest(found) != before


def test_top_k_ties_break_like_accuracy():
    from workbench_common.metrics import Accuracy, TopKAccuracy

    info = TargetInfo("classification", ("a", "b", "c", "d"))
    scores = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.4, 0.4, 0.1], [0.5, 0.5, 0.0, 0.0]])
    truth = np.array([0, 2, 1])
    top1 = TopKAccuracy({"k": 1}).score(truth, scores, info)
    assert top1 == Accuracy().score(truth, scores, info) == pytest.approx(1 / 3)
    assert TopKAccuracy({"k": 2}).score(truth, scores, info) == 1.0


def test_non_finite_predictions_are_refused_naming_the_metric_and_rows():
    from workbench.cell import check_finite
    from workbench.errors import ComponentError
    from workbench.specs import MetricSpec

    with pytest.raises(ComponentError, match=r"NaN or infinite values for 2 of 4 test samples \(rows 1, 3\).*'rmse'"):
        check_finite(np.array([0.0, np.nan, 1.0, np.inf]), MetricSpec(use="rmse"), "test")
    check_finite(np.array([0.0, 1.0]), MetricSpec(use="rmse"), "test")
