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
