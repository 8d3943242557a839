"""VLM proposer node contract: normalised candidates, and a fallback when the VLM fails."""
import pytest
from params import overrides

from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.srv import ProposePrompts

pytest.importorskip('mujoco', reason='the simulated proposer comes with the simulator: run ./sarl test')
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402
from sarl_ros.sim import registry  # noqa: E402

TASK = registry.SUITE_TASKS[0]


@pytest.fixture
def proposer(ros):
    node = ros.add(ProposerNode(**overrides(backend='sim', seed=3, max_candidates=6)))
    return node, ros.client(ProposePrompts, '/sarl/propose_prompts')


def features():
    return [float(x) for x in registry.make_env(TASK, seed=0).reset(seed=0).features]


def test_candidates_are_normalised_unique_and_include_the_task(ros, proposer):
    _, client = proposer
    reply = ros.call(client, ProposePrompts.Request(task=TASK, state_features=features(), max_candidates=0))
    assert reply.success and not reply.from_cache
    prompts = [c.prompt for c in reply.candidates]
    assert 2 <= len(prompts) <= 6
    assert len(set(prompts)) == len(prompts)
    assert all(p == normalize_prompt(p) and p for p in prompts)
    assert len(reply.vlm_scores) == len(prompts)
    assert any(c.source == 'task' for c in reply.candidates)


def test_a_failing_vlm_falls_back_to_the_last_good_candidates(ros, proposer):
    node, client = proposer
    request = ProposePrompts.Request(task=TASK, state_features=features(), max_candidates=4)
    good = ros.call(client, request)
    assert good.success

    def timeout(*args, **kwargs):
        raise TimeoutError('VLM did not answer within 20 s')
    node.proposer.propose = timeout  # the VLM boundary: a real endpoint timing out
    cached = ros.call(client, request)
    assert cached.success and cached.from_cache and 'did not answer' in cached.message
    assert [c.prompt for c in cached.candidates] == [c.prompt for c in good.candidates]
    # No cache for a new task: the whole task is the one command left to try.
    other = ros.call(client, ProposePrompts.Request(task='Stack the Cups!', state_features=features()))
    assert other.success and [(c.prompt, c.source) for c in other.candidates] == [('stack the cups', 'task')]
    blank = ros.call(client, ProposePrompts.Request(task='  ', state_features=features()))
    assert not blank.success and 'proposal failed' in blank.message


def test_proposal_cache_serves_a_cluster_without_asking_the_vlm_each_time(ros):
    node = ros.add(ProposerNode(**overrides(backend='sim', seed=3, cache_max_reuses=3)))
    client = ros.client(ProposePrompts, '/sarl/propose_prompts')
    request = ProposePrompts.Request(task=TASK, state_features=features(), max_candidates=6, episode=1)
    replies = [ros.call(client, request) for _ in range(4)]
    assert all(r.success for r in replies)
    assert len({tuple(c.prompt for c in r.candidates) for r in replies}) == 1  # one set served four times
    assert (node.proposer.calls, node.proposer.vlm_calls) == (4, 1)
    ros.call(client, request)
    assert node.proposer.vlm_calls == 2  # after max_reuses the VLM is asked again


def test_bad_cache_dimensions_are_named(ros):
    with pytest.raises(ValueError, match='cache_feature_dims'):
        ProposerNode(**overrides(backend='sim', cache_max_reuses=2, cache_feature_dims='1,x'))


def test_a_paper_task_gets_the_perceiving_vlm_on_the_scene_view_it_is_sent(ros, proposer):
    from sarl_ros.core.episode_loop import episode_stream_seed
    from sarl_ros.core.proposals import normalize_candidates, with_task_prompt
    from sarl_ros.rosutil.convert import seen_object_to_msg

    _, client = proposer
    task = 'banana_pot_sushi_bowl'
    observation = registry.make_env(task, seed=0).reset(seed=4)
    request = ProposePrompts.Request(
        task=registry.task_spec(task).text, task_name=task, state_features=[float(x) for x in observation.features],
        scene_view=[seen_object_to_msg(o) for o in observation.info['scene_view']], max_candidates=6)
    # Each episode's VLM is seeded from (the node's seed 3, episode), as the demo seeds its proposer: episode 2
    # draws the same whether episode 1 ran in this process or not (a resumed graph), and a retried run alike.
    for episode in (2, 7, 2):
        request.episode = episode
        in_process = registry.make_proposer(seed=episode_stream_seed(3, episode, 'proposer'), task=task)
        for _ in range(3):  # the perception noise draws from the same stream in both
            reply = ros.call(client, request)
            proposed = in_process.propose(observation, request.task, [], 6)
            want = normalize_candidates(with_task_prompt(proposed, request.task))
            assert reply.success and [c.prompt for c in reply.candidates] == [c.prompt for c in want]
            assert list(reply.vlm_scores) == pytest.approx([c.vlm_score for c in want])
    # Without the camera's scene view the perceiving VLM cannot look: the node falls back, it does not guess.
    blind = ros.call(client, ProposePrompts.Request(task=request.task, task_name=task,
                                                    state_features=request.state_features))
    assert blind.from_cache and 'camera view' in blind.message


def test_a_legacy_task_on_observable_state_is_refused_with_the_fix(ros, proposer):
    _, client = proposer
    observable = registry.make_env(TASK, seed=0, state='observable').reset(seed=0)
    reply = ros.call(client, ProposePrompts.Request(task=registry.task_spec(TASK).text, task_name=TASK,
                                                    state_features=[float(x) for x in observable.features]))
    assert 'set state_featurizer: auto (or oracle) under vla_executor in the parameter file' in reply.message


def test_return_to_start_is_offered_only_when_asked(ros):
    from sarl_ros.core.executor import RETURN_TO_START_PROMPT
    from sarl_ros.node_configs import ProposerConfig
    assert ProposerConfig().offer_return_to_start is False  # off unless asked
    ros.add(ProposerNode(**overrides(backend='sim', seed=3, offer_return_to_start=True)))
    client = ros.client(ProposePrompts, '/sarl/propose_prompts')
    reply = ros.call(client, ProposePrompts.Request(task=TASK, state_features=features(), max_candidates=4))
    assert reply.success
    assert (RETURN_TO_START_PROMPT, 'controller') in [(c.prompt, c.source) for c in reply.candidates]
    assert sum(c.source != 'task' for c in reply.candidates) <= 4


def test_a_frozen_pool_in_the_request_limits_the_candidates_to_it(ros, proposer):
    paper = registry.PAPER_TASKS[3]  # pot lid: the perceiving VLM chooses from the pool itself
    env = registry.make_env(paper, seed=0)
    observation = env.reset(seed=0)
    from sarl_ros.rosutil.convert import seen_object_to_msg
    pool = [registry.task_spec(paper).text, 'grasp the lid', 'put it on the towel', 'lift', 'juggle']
    client = ros.client(ProposePrompts, '/sarl/propose_prompts')
    reply = ros.call(client, ProposePrompts.Request(
        task=registry.task_spec(paper).text, task_name=paper, state_features=[float(x) for x in observation.features],
        scene_view=[seen_object_to_msg(o) for o in observation.info['scene_view']], max_candidates=4, pool=pool))
    assert reply.success and not reply.from_cache
    prompts = [c.prompt for c in reply.candidates]
    assert set(prompts) <= set(pool) and len(prompts) == 4  # the task and three chosen from the pool
