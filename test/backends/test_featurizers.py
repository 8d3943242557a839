"""State features of a real robot: proprioception plus a fixed-size image thumbnail."""
import numpy as np
import pytest

from sarl_ros.backends.featurizers import FEATURIZERS, ThumbnailFeaturizer, make_featurizer


def frame(value, shape=(480, 640, 3)):
    return np.full(shape, value, np.uint8)


def test_thumbnail_features_have_one_shape_and_see_the_scene():
    featurizer = make_featurizer('proprio_thumbnail', proprio_dim=7)
    proprio = np.arange(7, dtype=np.float32)
    dark, bright = featurizer.features(frame(0), proprio), featurizer.features(frame(255, (240, 320, 3)), proprio)
    assert dark.shape == bright.shape == (featurizer.dim,) == (7 + 3 * 8 * 8,)
    np.testing.assert_array_equal(dark[:7], proprio)
    assert dark[7:].max() == 0.0 and bright[7:].min() == 1.0
    # A red object in the left half changes only the left thumbnail columns, red channel.
    scene = frame(0)
    scene[:, :320, 0] = 255
    features = featurizer.features(scene, proprio)[7:].reshape(8, 8, 3)
    assert features[:, :4, 0].min() == 1.0 and features[:, 4:, 0].max() == 0.0 and features[..., 1:].max() == 0.0


def test_missing_frame_gives_zeros_and_bad_input_is_refused():
    featurizer = ThumbnailFeaturizer(proprio_dim=3, side=4)
    assert not featurizer.features(None, [1, 2, 3])[3:].any()
    with pytest.raises(ValueError, match='3 proprioception values'):
        featurizer.features(None, [1, 2])
    with pytest.raises(ValueError, match='uint8 RGB'):
        featurizer.features(np.zeros((4, 4), np.float32), [1, 2, 3])


def test_proprio_only_and_unknown_names():
    assert make_featurizer('proprio', 5).features(frame(9), np.ones(5)).tolist() == [1.0] * 5
    with pytest.raises(ValueError, match=', '.join(FEATURIZERS)):
        make_featurizer('clip', 5)
