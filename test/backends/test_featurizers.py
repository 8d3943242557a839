"""The real robot's state: the observable featurizer, with a choice of image encoder."""
import numpy as np
import pytest

from sarl_ros.backends.featurizers import FEATURIZERS, make_featurizer
from sarl_ros.core.perception.image_encoders import IMAGE_ENCODERS
from sarl_ros.core.perception.observable_features import HISTORY_BUCKETS, OBSERVABLE_DIM, PIXEL_SIDE


def frame(value, shape=(480, 640, 3)):
    return np.full(shape, value, np.uint8)


def test_the_default_is_the_state_the_simulated_benchmark_trains_on():
    featurizer = make_featurizer('observable', proprio_dim=7)
    assert featurizer.dim == OBSERVABLE_DIM
    features = featurizer.features(frame(0), np.arange(7, dtype=np.float32))
    np.testing.assert_array_equal(features[:7], np.arange(7, dtype=np.float32))


def test_a_thumbnail_image_code_sees_where_a_colour_is():
    featurizer = make_featurizer('observable', proprio_dim=7, image_encoder='thumbnail')
    assert featurizer.dim == 7 + 3 * 8 * 8 + HISTORY_BUCKETS + 1 + 3 * PIXEL_SIDE ** 2
    scene = frame(0)
    scene[:, :320, 0] = 255  # a red object in the left half: only the left columns' red channel
    code = featurizer.features(scene, np.zeros(7))[7:7 + 3 * 8 * 8].reshape(8, 8, 3)
    assert code[:, :4, 0].min() == 1.0 and code[:, 4:, 0].max() == 0.0 and code[..., 1:].max() == 0.0
    assert not featurizer.features(None, np.zeros(7))[7:].any()  # no frame: no image code, no pixels


def test_unknown_names_and_a_pretrained_encoder_without_a_model_are_refused():
    with pytest.raises(ValueError, match=', '.join(FEATURIZERS)):
        make_featurizer('proprio_thumbnail', 5)
    with pytest.raises(ValueError, match=', '.join(IMAGE_ENCODERS)):
        make_featurizer('observable', 5, image_encoder='clip')
    with pytest.raises(ValueError, match='needs image_model'):
        make_featurizer('observable', 5, image_encoder='pretrained')
    with pytest.raises(ValueError, match='only with robot:=sim'):
        make_featurizer('oracle', 5)
