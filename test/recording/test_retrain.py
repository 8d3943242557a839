"""Offline re-training from bags: a checkpoint the Q-policy node warm-starts from, and its evaluation."""
import pytest
from recording_helpers import synthetic_run, write_bag

torch = pytest.importorskip('torch', reason='the core learner needs torch')
checkpoint = pytest.importorskip('sarl_ros.core.durability.checkpoint',
                                 reason='the core learner is not in this checkout yet')

from sarl_ros.recording.reader import read_recording  # noqa: E402
from sarl_ros.recording.retrain import evaluate_policy, retrain  # noqa: E402


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp('retrain')
    run = synthetic_run(episodes=16, seed=7)
    write_bag(tmp / 'bag', run)
    recordings = [read_recording(tmp / 'bag')]
    result = retrain(recordings, tmp / 'out' / 'sarl.pt', encoder='hashing', updates_per_decision=4,
                     extra_updates=100)
    return run, recordings, result


def test_checkpoint_holds_every_recorded_transition(trained):
    run, _, result = trained
    policy = checkpoint.load_checkpoint(result.checkpoint)
    assert policy.name == 'sarl'
    assert policy.transitions == result.transitions == len(run.transition_cdr)
    assert policy.episodes == result.episodes == len(run.outcomes)
    assert policy.updates == result.updates > 0


def test_evaluation_prefers_the_choices_of_successful_episodes(trained):
    run, recordings, result = trained
    evaluation = result.evaluation
    assert evaluation.decisions == len(run.chosen_q)
    assert evaluation.q_chosen_successful > evaluation.q_chosen_failed
    assert evaluation.agreement_successful > evaluation.agreement_failed
    # The saved policy evaluates the same as the one that was trained.
    reloaded = evaluate_policy(checkpoint.load_checkpoint(result.checkpoint), recordings)
    assert reloaded.agreement == evaluation.agreement


def test_untrained_policy_scores_differently(trained):
    from sarl_ros.core.methods import make_policy
    _, recordings, result = trained
    fresh = evaluate_policy(make_policy('sarl', encoder='hashing'), recordings)
    assert fresh.decisions == result.evaluation.decisions
    assert (fresh.q_chosen_successful - fresh.q_chosen_failed
            < result.evaluation.q_chosen_successful - result.evaluation.q_chosen_failed)


def test_no_transitions_is_an_error(tmp_path):
    with pytest.raises(ValueError, match='no transitions'):
        retrain([], tmp_path / 'x.pt', encoder='hashing')
    assert not (tmp_path / 'x.pt').exists()


def test_policy_node_warm_starts_from_the_checkpoint(ros, trained, tmp_path):
    from rclpy.parameter import Parameter

    from sarl_ros.nodes.policy_node import PolicyNode
    _, _, result = trained
    node = ros.add(PolicyNode(parameter_overrides=[Parameter('warm_start', value=str(result.checkpoint)),
                                                   Parameter('output_dir', value=str(tmp_path)),
                                                   Parameter('encoder', value='hashing')]))
    assert node.policy.transitions == result.transitions
    assert node.policy.updates == result.updates
