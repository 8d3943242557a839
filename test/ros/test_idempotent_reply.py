"""RepeatLastReply: an identical request in a row is answered from the stored reply, not computed again."""
from sarl_ros.msg import SemanticAction
from sarl_ros.rosutil.idempotent import RepeatLastReply, message_key
from sarl_ros.srv import SelectPrompt


def counting_callback(outcomes):
    calls = []

    def callback(request, response):
        calls.append(request.decision_step)
        response.success = outcomes.pop(0)
        response.message = f'call {len(calls)}'
        return response
    return callback, calls


def request(step, features=(0.1, 0.2), prompts=('a', 'bc')):
    return SelectPrompt.Request(episode=1, decision_step=step, task='t', state_features=list(features),
                                candidates=[SemanticAction(prompt=p) for p in prompts], vlm_scores=[0.0] * len(prompts))


def test_equal_messages_have_equal_keys_and_any_difference_shows():
    # Serialised CDR bytes differ between equal messages (uninitialised padding), so they cannot be the key.
    assert message_key(request(0)) == message_key(request(0))
    assert hash(message_key(request(0))) == hash(message_key(request(0)))
    assert message_key(request(0)) != message_key(request(0, prompts=('a', 'bd')))
    assert message_key(request(0)) != message_key(request(0, features=(0.1, 0.25)))


def test_identical_request_is_answered_from_the_stored_reply():
    callback, calls = counting_callback([True, True, True])
    service = RepeatLastReply(callback)
    first = service(request(0), SelectPrompt.Response())
    repeat = service(request(0), SelectPrompt.Response())
    assert repeat.message == first.message == 'call 1' and calls == [0] and service.repeats == 1
    # Any difference in the request (another step, other features) is computed.
    assert service(request(1), SelectPrompt.Response()).message == 'call 2'
    assert service(request(1, features=(0.1, 0.3)), SelectPrompt.Response()).message == 'call 3'
    assert calls == [0, 1, 1]


def test_another_request_in_between_does_not_evict_the_stored_reply():
    callback, calls = counting_callback([True] * 12)
    service = RepeatLastReply(callback, remember=3)
    service(request(0), SelectPrompt.Response())
    service(request(1), SelectPrompt.Response())  # e.g. another client between a call and its retry
    assert service(request(0), SelectPrompt.Response()).message == 'call 1'
    for step in (2, 3, 4):
        service(request(step), SelectPrompt.Response())
    assert service(request(0), SelectPrompt.Response()).message == 'call 6'  # only the last few are kept
    assert calls == [0, 1, 2, 3, 4, 0]


def test_a_failed_reply_is_computed_again():
    callback, calls = counting_callback([False, True])
    service = RepeatLastReply(callback)
    assert not service(request(0), SelectPrompt.Response()).success
    assert service(request(0), SelectPrompt.Response()).success
    assert calls == [0, 0] and service.repeats == 0
