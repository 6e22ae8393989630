"""The hierarchy plugin: label constructors and the label-hierarchy curriculum against hand
values, the Hamidieh featurizer against a hand computation, the SuperCon loader on the real
file, the hierarchical MLP's contract and curriculum behaviour, and the quick study end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench import ComponentError, TargetInfo
from workbench.registry import get_registry
from workbench.testing import check
from workbench_hierarchy.curriculum import LabelHierarchy, feed_scales
from workbench_hierarchy.labels import DatasetHierarchy, FixedWidthBins, QuantileBins


# -- label constructors ---------------------------------------------------------------------


def test_quantile_bins_are_equal_count_and_fitted_on_the_given_values():
    values = np.arange(12.0)  # 0..11 → 4 classes of 3
    bins = QuantileBins.fit(values, 4)
    np.testing.assert_allclose(bins.edges, [2.75, 5.5, 8.25])
    np.testing.assert_array_equal(bins.assign(values), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    # Values outside the fitted range go to the end classes; NaN stays missing.
    out = bins.assign([-100.0, 5.5, 1e6, np.nan])
    np.testing.assert_array_equal(out[:3], [0, 2, 3])
    assert np.isnan(out[3])
    assert bins.n_classes == 4 and len(bins.class_names("K")) == 4
    with pytest.raises(ComponentError, match="coincide"):
        QuantileBins.fit(np.r_[np.zeros(50), np.arange(5.0)], 4)


def test_fixed_width_bins_with_overflow_and_the_thesis_numbering():
    plain = FixedWidthBins(2.0, 0.0, 110.0)
    assert plain.n_classes == 56
    np.testing.assert_array_equal(plain.assign([0.0, 1.99, 2.0, 108.5, 109.99, 110.0, 185.0]), [0, 0, 1, 54, 54, 55, 55])
    thesis = FixedWidthBins(2.0, 0.0, 110.0, underflow=True)  # np.digitize numbering, §3.3.2.2
    assert thesis.n_classes == 57
    # "[108K,110K) range as class 55 ... Tc > 110K belong to class 56"
    np.testing.assert_array_equal(thesis.assign([-1.0, 0.5, 108.0, 110.0, 185.0]), [0, 1, 55, 56, 56])
    np.testing.assert_array_equal(thesis.assign(np.array([0.3, 7.9])), np.digitize([0.3, 7.9], np.arange(0, 111, 2)))
    assert thesis.class_names()[0] == "< 0" and thesis.class_names()[-1] == ">= 110"
    assert np.isnan(thesis.assign([np.nan])[0])
    with pytest.raises(ComponentError, match="whole number"):
        FixedWidthBins(3.0, 0.0, 110.0)


def test_dataset_hierarchy_maps_fine_to_coarse_and_refuses_non_hierarchies():
    fine = np.array([0, 1, 2, 3, 4, 5, 0, 3])
    coarse = np.array([1, 1, 0, 2, 0, 2, 1, 2])
    h = DatasetHierarchy.from_pairs(fine, coarse)
    assert h.coarse_of == (1, 1, 0, 2, 0, 2)
    assert h.children(0) == (2, 4) and h.n_coarse == 3 and h.n_fine == 6
    np.testing.assert_array_equal(h.coarse([5, 2]), [2, 0])
    p = np.full((1, 6), 1 / 6)
    np.testing.assert_allclose(h.coarse_probabilities(p), [[2 / 6, 2 / 6, 2 / 6]])
    with pytest.raises(ComponentError, match="more than one coarse"):
        DatasetHierarchy.from_pairs([0, 0, 1], [0, 1, 1])


# -- the curriculum -------------------------------------------------------------------------


def test_mask_is_active_for_exactly_the_first_k_epochs():
    k3 = LabelHierarchy({"mask_epochs": 3})
    assert [k3.mask_active(e) for e in range(1, 7)] == [True, True, True, False, False, False]
    assert [k3.feeds(e) for e in range(1, 5)] == [False, False, False, True]
    assert not k3.feeds_after(3) and k3.feeds_after(4)
    never = LabelHierarchy({"mask_epochs": "all"})
    assert not any(never.feeds(e) for e in range(1, 200))
    always = LabelHierarchy()
    assert always.feeds(1) and always.feeds_after(1)
    np.testing.assert_array_equal(feed_scales([always, k3, never], 2), [1.0, 0.0, 0.0])
    with pytest.raises(ComponentError, match="from 1"):
        k3.mask_active(0)


def test_feed_gives_exact_zeros_and_no_gradient_while_masked():
    curriculum = LabelHierarchy({"mask_epochs": 1})
    source = torch.randn(4, 3, requires_grad=True)
    weights = torch.randn(3, 2, requires_grad=True)
    masked = curriculum.feed(torch.softmax(source, dim=1), 1)
    assert torch.equal(masked, torch.zeros(4, 3))
    (masked @ weights).sum().backward() if masked.requires_grad else None
    assert source.grad is None or torch.count_nonzero(source.grad) == 0
    fed = curriculum.feed(torch.softmax(source, dim=1), 2)
    (fed @ weights).sum().backward()
    assert torch.count_nonzero(weights.grad) > 0
    np.testing.assert_array_equal(curriculum.feed(np.ones((2, 2)), 1), np.zeros((2, 2)))
    assert curriculum.joint_loss(2.0, 3.0) == 5.0
    assert LabelHierarchy({"coarse_weight": 0.5, "fine_weight": 2.0}).joint_loss(2.0, 3.0) == 7.0


def test_direction_decides_which_head_feeds_which_from_the_parent_relation():
    targets = {"coarse": TargetInfo("classification", ("a", "b")), "fine": TargetInfo("classification", ("x", "y", "z"), parent="coarse")}
    assert LabelHierarchy().heads("coarse", "fine", targets) == ("fine", "coarse")
    assert LabelHierarchy({"direction": "coarse-to-fine"}).heads("fine", "coarse", targets) == ("coarse", "fine")
    assert LabelHierarchy({"direction": "coarse-to-fine"}).heads("coarse", "fine", targets) == ("coarse", "fine")
    unrelated = {"a": TargetInfo("classification", ("0", "1")), "b": TargetInfo("regression")}
    assert LabelHierarchy().heads("a", "b", unrelated) == ("b", "a")
    with pytest.raises(ComponentError, match="differ"):
        LabelHierarchy().heads("a", "a", unrelated)


def test_curriculum_contract():
    check(LabelHierarchy)
    assert get_registry().build("curriculum", "label-hierarchy", {"mask_epochs": 2}).interface == "label-hierarchy"
