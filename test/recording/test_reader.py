"""Reading bags offline: episodes and transitions rebuilt exactly, damaged bags read as far as they go."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from recording_helpers import learner_transitions, synthetic_run, write_bag

from sarl_ros import names
from sarl_ros.recording.bag.source import BagError
from sarl_ros.recording.bag.writer import BagWriter
from sarl_ros.recording.compare import record_and_compare, transition_differences
from sarl_ros.recording.bag.message_types import TOPIC_TYPES, definition_and_hash, find_msg_directory
from sarl_ros.recording.reader import read_recording

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def run():
    return synthetic_run(episodes=6, seed=3)


def test_transitions_and_episodes_are_rebuilt_exactly(tmp_path, run):
    write_bag(tmp_path / 'bag', run)
    rec = record_and_compare(tmp_path / 'bag', learner_transitions(run))
    assert rec.problems == []
    assert [e.outcome for e in rec.episodes] == run.outcomes
    assert [e.prompts for e in rec.episodes] == run.chosen
    assert [d.chosen_q for d in rec.decisions] == run.chosen_q
    assert [e.control_steps for e in rec.episodes] == [3 * len(c) for c in run.chosen]
    assert rec.counts[names.TOPIC_LEARNER_STATS] == 6 and rec.stats[-1].episodes == 6
    assert rec.topic_counts[names.TOPIC_CAMERA] == run.topic_count(names.TOPIC_CAMERA) and not rec.image_times_ns
    with_images = read_recording(tmp_path / 'bag', images=True)
    assert [e.images for e in with_images.episodes] == [3 * len(c) for c in run.chosen]


def test_comparison_names_a_single_flipped_bit(run):
    expected = learner_transitions(run)[0]
    state = expected.state.copy()
    state.view(np.uint32)[0] ^= 1
    changed = type(expected)(**{**expected.__dict__, 'state': state})
    assert transition_differences(expected, changed) == [f'state: expected {expected.state!r}, bag has {state!r}']


def test_sqlite3_bags_read_the_same(tmp_path, run):
    write_bag(tmp_path / 'bag', run, storage='sqlite3')
    assert (tmp_path / 'bag' / 'bag.db3').exists()
    record_and_compare(tmp_path / 'bag', learner_transitions(run))


def test_our_definition_hashes_equal_those_rosidl_generates():
    # The bag's type hashes must be the ones `ros2 bag` computes, or it refuses to play them.
    generated = [p for p in ROOT.joinpath('.venv', 'share', 'sarl_ros', 'msg').glob('*.json')]
    if not generated:
        pytest.skip('the interfaces are not generated (.venv/share/sarl_ros/msg/*.json): run ./sarl setup')
    for path in generated:
        description = json.loads(path.read_text())
        expected = next(h['hash_string'] for h in description['type_hashes']
                        if h['type_name'] == f'sarl_ros/msg/{path.stem}')
        assert definition_and_hash(f'sarl_ros/msg/{path.stem}')[1] == expected, path.stem
    assert find_msg_directory().is_dir()


def test_unclosed_bag_from_a_killed_recorder_is_read_completely(tmp_path, run):
    writer = write_bag(tmp_path / 'bag', run, close=False)  # flushed, never closed: as after SIGKILL
    assert not (tmp_path / 'bag' / 'metadata.yaml').exists()
    rec = record_and_compare(tmp_path / 'bag', learner_transitions(run))
    assert rec.recovered
    assert any('no metadata.yaml' in p and 'did not close' in p for p in rec.problems)
    writer.close()


def test_truncated_bag_reports_the_cut_and_keeps_the_episodes_before_it(tmp_path, run):
    write_bag(tmp_path / 'bag', run, flush_every=40)
    mcap = tmp_path / 'bag' / 'bag.mcap'
    data = mcap.read_bytes()
    mcap.write_bytes(data[:len(data) * 6 // 10])
    rec = read_recording(tmp_path / 'bag')
    assert any('truncated' in p and 'bag.mcap' in p for p in rec.problems), rec.problems
    rebuilt = rec.core_transitions
    expected = learner_transitions(run)
    assert 0 < len(rebuilt) < len(expected)
    assert all(not transition_differences(a, b) for a, b in zip(expected, rebuilt))
    assert [e.outcome for e in rec.episodes if e.outcome != 'unfinished'] == run.outcomes[:len(
        [e for e in rec.episodes if e.outcome != 'unfinished'])]


def chunk_offsets(data: bytes) -> list[int]:
    """Return where the top-level MCAP chunk records start."""
    pos, found = 8, []
    while pos + 9 <= len(data) and data[pos] != 0x02:
        if data[pos] == 0x06:
            found.append(pos)
        pos += 9 + struct.unpack_from('<Q', data, pos + 1)[0]
    return found


def damage(path: Path, where: str) -> None:
    """Overwrite 8 bytes of a middle chunk of an MCAP file."""
    data = bytearray(path.read_bytes())
    chunks = chunk_offsets(bytes(data))
    assert len(chunks) > 5
    start = chunks[len(chunks) // 2]
    # The chunk record's length, or the length of the first record inside it (after the 37-byte chunk header).
    offset = start + 1 if where == 'chunk length' else start + 9 + 37 + 1
    data[offset:offset + 8] = b'\xff' * 8
    if where == 'chunk length':
        data[-8:] = b'\x00' * 8  # and the footer: no index to find the chunks by
    path.write_bytes(bytes(data))


@pytest.mark.parametrize('where', ['chunk length', 'record inside a chunk'])
def test_corrupt_chunk_is_named_and_the_rest_read(tmp_path, run, where):
    write_bag(tmp_path / 'bag', run, flush_every=15)
    damage(tmp_path / 'bag' / 'bag.mcap', where)
    rec = read_recording(tmp_path / 'bag')
    assert any('corrupt' in p and 'bag.mcap' in p for p in rec.problems), rec.problems
    expected = {(t.episode, t.step): t for t in learner_transitions(run)}
    rebuilt = rec.core_transitions
    assert len(expected) // 2 < len(rebuilt) < len(expected)
    # Whatever was read is exactly what was written.
    assert all(not transition_differences(expected[(t.episode, t.step)], t) for t in rebuilt)


def test_bag_without_sarl_topics_says_so(tmp_path):
    with BagWriter(tmp_path / 'bag') as writer:
        writer.add_topic(names.TOPIC_CAMERA, TOPIC_TYPES[names.TOPIC_CAMERA], reliable=False)
    rec = read_recording(tmp_path / 'bag')
    assert rec.episodes == [] and not rec.has_sarl_topics
    assert rec.problems == [f'{tmp_path / "bag"}: no SARL topics in this bag (topics: {names.TOPIC_CAMERA}); '
                            f'expected some of {", ".join(t for t in TOPIC_TYPES if t.startswith("/sarl"))}']


@pytest.mark.parametrize('make, message', [
    (lambda p: p, 'does not exist'),
    (lambda p: (p.mkdir(), p)[1], 'no .mcap or .db3 file in it'),
    (lambda p: (p.write_text('hello'), p)[1], 'is not a rosbag2'),
    (lambda p: (p.mkdir(), (p / 'x.mcap').write_bytes(b'garbage' * 10), p)[2], 'not an MCAP file'),
])
def test_paths_that_are_no_bag_are_named(tmp_path, make, message):
    path = make(tmp_path / 'input')
    with pytest.raises(BagError, match=message):
        read_recording(path)


def test_newer_message_definition_is_reported_and_read(tmp_path, run):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    newer_text = find_msg_directory().joinpath('Transition.msg').read_text() + 'float32 novelty\nstring[] tags\n'
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg(find_msg_directory().joinpath('SemanticAction.msg').read_text(),
                                      'sarl_ros/msg/SemanticAction'))
    store.register(get_types_from_msg(newer_text, 'sarl_ros/msg/Transition'))
    own = __import__('sarl_ros.recording.bag.message_types', fromlist=['own_typestore']).own_typestore()
    writer = BagWriter(tmp_path / 'bag')
    msgdef, _ = store.generate_msgdef('sarl_ros/msg/Transition', ros_version=2)
    writer.add_topic(names.TOPIC_TRANSITIONS, 'sarl_ros/msg/Transition', msgdef=msgdef,
                     rihs01=store.hash_rihs01('sarl_ros/msg/Transition'))
    writer.add_topic(names.TOPIC_EVENTS, 'sarl_ros/msg/EpisodeEvent')
    newer_type = store.types['sarl_ros/msg/Transition']
    for topic, stamp, data in run.stream:
        if topic == names.TOPIC_EVENTS:
            writer.write(topic, stamp, data)
        elif topic == names.TOPIC_TRANSITIONS:
            old = own.deserialize_cdr(data, 'sarl_ros/msg/Transition')
            newer = newer_type(**old.__dict__, novelty=0.5, tags=['a', 'b'])
            writer.write(topic, stamp, bytes(store.serialize_cdr(newer, 'sarl_ros/msg/Transition')))
    writer.close()
    rec = record_and_compare(tmp_path / 'bag', learner_transitions(run))
    assert any('newer' in p and 'novelty, tags' in p for p in rec.problems), rec.problems
    assert [e.outcome for e in rec.episodes] == run.outcomes


def test_bag_without_stored_definitions_uses_ours(tmp_path, run):
    # As recorded by ROS 2 humble: sqlite3 without message definitions; here even without metadata.yaml.
    import sqlite3
    write_bag(tmp_path / 'bag', run, storage='sqlite3')
    with sqlite3.connect(tmp_path / 'bag' / 'bag.db3') as db:
        db.execute('DELETE FROM message_definitions')
    (tmp_path / 'bag' / 'metadata.yaml').unlink()
    rec = record_and_compare(tmp_path / 'bag' / 'bag.db3', learner_transitions(run))
    assert [e.outcome for e in rec.episodes] == run.outcomes


def test_compressed_mcap_from_another_recorder_is_read_even_when_cut(tmp_path, run):
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    writer = Writer(tmp_path / 'bag', version=8, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)  # zstd chunks, as `ros2 bag` can
    with writer:
        connections = {}
        for topic, typ in TOPIC_TYPES.items():
            msgdef, digest = definition_and_hash(typ)
            connections[topic] = writer.add_connection(topic, typ, msgdef=msgdef, rihs01=digest)
        for topic, stamp, data in run.stream:
            writer.write(connections[topic], stamp, data)
    record_and_compare(tmp_path / 'bag', learner_transitions(run))
    mcap = tmp_path / 'bag' / 'bag.mcap'
    data = mcap.read_bytes()
    mcap.write_bytes(data[:len(data) - 200])  # loses the summary and the footer only
    rec = record_and_compare(tmp_path / 'bag', learner_transitions(run))
    assert rec.recovered and any('bag.mcap: its index and footer are missing' in p for p in rec.problems)


def test_restarted_graph_in_one_bag_gives_separate_episodes(tmp_path):
    first, second = synthetic_run(episodes=2, seed=1), synthetic_run(episodes=2, seed=2)
    shift = first.stream[-1][1] + 10**9
    first.stream += [(topic, stamp + shift, data) for topic, stamp, data in second.stream]
    write_bag(tmp_path / 'bag', first)
    rec = read_recording(tmp_path / 'bag')
    assert [(e.episode, e.run) for e in rec.episodes] == [(1, 0), (2, 0), (1, 1), (2, 1)]
    assert [e.prompts for e in rec.episodes] == first.chosen + second.chosen
    assert [e.outcome for e in rec.episodes] == first.outcomes + second.outcomes


def test_a_corrected_verdict_in_the_bag_is_the_episode_s_outcome(tmp_path):
    from sarl_ros.core.events import CORRECTED_BY_OPERATOR, EventKind
    from sarl_ros.recording.bag.message_types import own_typestore
    run = synthetic_run(episodes=2, seed=4)
    write_bag(tmp_path / 'plain', run)
    before = read_recording(tmp_path / 'plain').episodes[-1]
    flipped = 'failure' if before.outcome == 'success' else 'success'
    store = own_typestore()
    t = store.types
    stamp = run.stream[-1][1] + 10**9  # seconds later, before the next episode started
    event = t['sarl_ros/msg/EpisodeEvent'](
        header=t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=0),
                                        frame_id=''),
        type=int(EventKind[flipped.upper()]), episode=2, task='put the sushi in the pot',
        detail=f'{CORRECTED_BY_OPERATOR} (was {before.outcome}), decided by person')
    run.stream.append((names.TOPIC_EVENTS, stamp, bytes(store.serialize_cdr(event, TOPIC_TYPES[names.TOPIC_EVENTS]))))
    write_bag(tmp_path / 'corrected', run)
    after = read_recording(tmp_path / 'corrected').episodes[-1]
    assert after.outcome == flipped and after.end_ns == before.end_ns  # the correction is no later end


def test_recorder_killed_before_its_first_flush_is_named(tmp_path):
    writer = BagWriter(tmp_path / 'bag')
    writer.add_topic(names.TOPIC_EVENTS, TOPIC_TYPES[names.TOPIC_EVENTS])  # still in memory: nothing flushed
    with pytest.raises(BagError, match='no metadata.yaml .*did not close the bag.*bag.mcap: is empty'):
        read_recording(tmp_path / 'bag')
    writer.close()
