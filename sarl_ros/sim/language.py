"""The simulated VLA's language side: its pretraining vocabulary, command parsing and grounding.

Nothing here knows the tasks. Outcomes such as "the sushi" grounding to the mushroom follow from
three generic mechanisms:
- a lexicon of words the VLA saw in pretraining (Bridge-like nouns, colours, shapes), each an
  attribute vector; scene objects are perceived as attribute vectors too (OBJECT_APPEARANCE);
- an unknown word falls back to the lexicon noun nearest by character-trigram similarity;
- a phrase grounds to the scene object whose appearance has the highest cosine with the phrase.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

ATTRIBUTES = ('red', 'orange', 'green', 'blue', 'brown', 'white', 'gray', 'long', 'round', 'flat', 'small',
              'container', 'handle', 'food', 'tool', 'kitchenware', 'cloth', 'toy', 'yellow', 'pink')
_INDEX = {name: i for i, name in enumerate(ATTRIBUTES)}


def _vector(**weights: float) -> np.ndarray:
    vec = np.zeros(len(ATTRIBUTES))
    for name, weight in weights.items():
        vec[_INDEX[name]] = weight
    return vec


# How each scene object looks to the VLA's vision (what a detector would report).
OBJECT_APPEARANCE = {
    'hammer': _vector(brown=0.7, gray=0.4, long=1.0, handle=1.0, tool=1.0),
    'mushroom': _vector(brown=1.0, round=1.0, small=0.8, food=1.0),
    'spoon': _vector(gray=1.0, long=1.0, handle=0.4, small=0.5, kitchenware=1.0),
    'plate': _vector(white=1.0, round=1.0, flat=1.0, kitchenware=1.0),
    'pot': _vector(gray=0.8, round=0.6, container=1.0, handle=0.3, kitchenware=1.0),
    'sushi': _vector(white=0.7, orange=0.6, small=1.0, food=1.0),
    'towel': _vector(blue=1.0, flat=1.0, cloth=1.0),
    'carrot': _vector(orange=1.0, green=0.3, long=1.0, food=1.0),
    'cube': _vector(red=1.0, small=1.0, toy=1.0),
    'banana': _vector(yellow=1.0, long=1.0, food=1.0),
    'lid': _vector(gray=0.8, round=0.8, flat=1.0, handle=0.5, kitchenware=1.0),
    # The held-out paper-style tasks' objects.
    'corn': _vector(yellow=1.0, green=0.3, long=1.0, food=1.0),
    'pan': _vector(gray=0.5, round=0.5, container=0.8, handle=0.6, kitchenware=1.0),
    'sponge': _vector(yellow=0.8, green=0.5, small=0.6, flat=0.4, cloth=0.5),
    'potato': _vector(brown=0.8, round=1.0, small=0.5, food=1.0),
}
# Look-alikes whose colour is painted per scene: their shape, to which the scene's colour is added.
PAINTED_SHAPE = {
    'pot': _vector(round=0.6, container=1.0, handle=0.3, kitchenware=1.0),
    'pot_b': _vector(round=0.6, container=1.0, handle=0.3, kitchenware=1.0),
    'bowl_large': _vector(round=1.0, container=1.0, kitchenware=1.0),
    'bowl_small': _vector(round=1.0, container=1.0, kitchenware=1.0),
    'toy_a': _vector(toy=1.0, small=0.6, cloth=0.4),
    'toy_b': _vector(toy=1.0, small=0.6, cloth=0.4),
    'can_a': _vector(round=0.6, container=0.3, small=0.5, kitchenware=0.3),
    'can_b': _vector(round=0.6, container=0.3, small=0.5, kitchenware=0.3),
    'dish_large': _vector(round=1.0, flat=1.0, kitchenware=1.0),
    'dish_small': _vector(round=1.0, flat=1.0, kitchenware=1.0),
}
COLOUR_ATTRIBUTE = {'silver': 'gray', 'red': 'red', 'blue': 'blue', 'white': 'white', 'pink': 'pink',
                    'green': 'green', 'yellow': 'yellow', 'orange': 'orange'}
# Scores within this share of the best are a tie the VLA cannot resolve from the words: it then
# goes for the most salient object (the one in the gripper, else the one nearest the robot).
TIE_MARGIN = 0.05


def scene_appearance(objects, colours: dict[str, str]) -> dict[str, np.ndarray]:
    """Return how each scene object looks to the VLA, with this scene's colours painted on."""
    looks = {}
    for name in objects:
        if name in colours and name in PAINTED_SHAPE:
            looks[name] = PAINTED_SHAPE[name] + 0.8 * _vector(**{COLOUR_ATTRIBUTE[colours[name]]: 1.0})
        else:
            looks[name] = OBJECT_APPEARANCE[name]
    return looks


# The VLA's pretraining vocabulary of object words (Bridge V2-like kitchen scenes).
NOUN_LEXICON = {
    'spoon': _vector(gray=0.8, long=1.0, handle=0.6, kitchenware=1.0),
    'fork': _vector(gray=0.8, long=1.0, kitchenware=1.0),
    'knife': _vector(gray=0.8, long=1.0, handle=0.8, kitchenware=1.0),
    'spatula': _vector(long=1.0, handle=1.0, flat=0.5, kitchenware=1.0),
    'marker': _vector(long=1.0, small=0.5, gray=0.5),
    'pot': _vector(gray=0.6, container=1.0, round=0.5, kitchenware=1.0),
    'pan': _vector(gray=0.6, container=0.8, handle=0.5, kitchenware=1.0),
    'bowl': _vector(container=1.0, round=1.0, kitchenware=1.0),
    'plate': _vector(white=0.6, round=1.0, flat=1.0, kitchenware=1.0),
    'dish': _vector(white=0.6, round=1.0, flat=1.0, kitchenware=1.0),
    'towel': _vector(flat=1.0, cloth=1.0, blue=0.3),
    'cloth': _vector(flat=1.0, cloth=1.0),
    'rag': _vector(flat=1.0, cloth=1.0),
    'carrot': _vector(orange=1.0, long=1.0, food=1.0),
    'corn': _vector(long=1.0, food=1.0),
    'banana': _vector(long=1.0, food=1.0),
    'eggplant': _vector(long=0.6, food=1.0),
    'mushroom': _vector(round=1.0, small=1.0, food=1.0, brown=0.5),
    'potato': _vector(brown=0.6, round=1.0, food=1.0),
    'cube': _vector(small=1.0, toy=1.0),
    'block': _vector(small=1.0, toy=1.0),
    'toy': _vector(toy=1.0, small=0.5),
    'sponge': _vector(small=0.6, flat=0.4, cloth=0.5),
    'drawer': _vector(container=1.0),
    'handle': _vector(handle=1.0, long=0.5),
    'can': _vector(gray=0.5, round=0.6, container=0.5),
    'lid': _vector(flat=1.0, round=0.5, kitchenware=0.6, handle=0.3),
}
ADJECTIVE_LEXICON = {
    'red': _vector(red=1.0), 'orange': _vector(orange=1.0), 'green': _vector(green=1.0),
    'blue': _vector(blue=1.0), 'brown': _vector(brown=1.0), 'white': _vector(white=1.0),
    'gray': _vector(gray=1.0), 'grey': _vector(gray=1.0), 'silver': _vector(gray=1.0),
    'long': _vector(long=1.0), 'round': _vector(round=1.0), 'flat': _vector(flat=1.0),
    'small': _vector(small=1.0), 'little': _vector(small=1.0),
    'yellow': _vector(yellow=1.0), 'pink': _vector(pink=1.0),
}
# Words that carry no object meaning for the VLA.
FUNCTION_WORDS = frozenset(
    'the a an of to on in into onto over above at with and then it its this that from out up down left right '
    'forward forwards back backward backwards gripper arm robot object thing item piece some '
    'put place set move bring transfer grasp grab pick drop lift raise open close take go reach release let '
    'lower descend shift slide '
    # Spatial and size qualifiers: Bridge-style VLAs barely ground them, so this one ignores them.
    'largest biggest big large larger bigger smallest smaller middle stuffed plush'.split())
UNKNOWN_WORD_MIN_SIMILARITY = 0.1

# Verb vocabulary: surface forms the VLA was trained on, mapped to its skills.
PICK, PUT, PUT_DOWN, DROP, MOVE_OVER, OPEN, CLOSE, DOWN_GRASP, LIFT, LOWER, SHIFT, HOVER = (
    'pick', 'put', 'put_down', 'drop', 'move_over', 'open', 'close', 'down_grasp', 'lift', 'lower', 'shift', 'hover')
_VERB_PATTERNS = (
    (r'^(move|go|reach) (down|lower) and (grasp|grab|pick)', DOWN_GRASP),
    (r'^(lower|descend) and (grasp|grab)', DOWN_GRASP),
    (r'^(open|release|let go)', OPEN),
    (r'^(put|set|place) (it|the [a-z ]+?) down$', PUT_DOWN),
    (r'^close', CLOSE),
    (r'^(pick up|pick|grasp|grab)', PICK),
    (r'^(move|go|reach)( the gripper| the arm)? (over|above|to|toward|towards|near)\b', MOVE_OVER),
    (r'^(put|place|set|move|bring|transfer)\b.*\b(on|onto|in|into|to|inside)\b', PUT),
    (r'^drop', DROP),
    (r'^(lift|raise|move up|go up)', LIFT),
    (r'^(move down|go down|lower)', LOWER),
    (r'^(move|go|shift|slide) (the gripper |the arm )?(left|right|forward|forwards|back|backward|backwards)',
     SHIFT),
)
_CLAUSE_SPLIT = re.compile(r'\s*(?:,|;|\bthen\b|\bafter that\b|\band\b(?= (?:put|place|grasp|pick|move|lift|'
                           r'drop|open|close|take|bring|go)\b))\s*')
LONG_PROMPT_WORDS = 14  # the VLA's instruction encoder saw short commands only


@dataclass(frozen=True)
class Command:
    """What the VLA understood: a skill and its arguments."""

    skill: str
    obj: str | None = None  # object phrase (words), None: none given
    target: str | None = None  # destination phrase
    direction: str | None = None
    collapsed: bool = False  # a multi-clause prompt the VLA could not follow


def normalize(text: str) -> str:
    """Return lowercase words separated by single spaces, punctuation kept only as commas."""
    text = text.lower().replace(';', ',')
    text = re.sub(r'[^a-z, ]+', ' ', text)
    return re.sub(r'\s+', ' ', text).strip(' ,')


def parse(prompt: str) -> Command:
    """Map a command to a skill; long multi-clause prompts collapse to the first verb and last object."""
    text = normalize(prompt)
    # "move down and grasp" is one skill of the vocabulary, not two clauses.
    protected = re.sub(r'\b(down|lower) and (grasp|grab|pick)', r'\1 _and_ \2', text)
    clauses = [c.replace('_and_', 'and') for c in _CLAUSE_SPLIT.split(protected) if c]
    if len(clauses) > 1 or len(text.split()) > LONG_PROMPT_WORDS:
        # Trained on single short commands, the VLA keeps the first verb but its attention lands
        # on the last-mentioned object: a wrong mode, not the task.
        first = _parse_clause(clauses[0] if clauses else text)
        phrases = [p for c in clauses for p in _noun_phrases(c)]
        obj = phrases[-1] if phrases else first.obj
        skill = PICK if first.skill in (PUT, DROP) else first.skill
        return Command(skill, obj=obj, direction=first.direction, collapsed=True)
    return _parse_clause(text.replace(',', ' '))


def _parse_clause(clause: str) -> Command:
    clause = clause.strip()
    for pattern, skill in _VERB_PATTERNS:
        match = re.match(pattern, clause)
        if not match:
            continue
        rest = clause[match.end():] if skill not in (PUT,) else clause[len(match.group(1)):]
        if skill == SHIFT:
            return Command(SHIFT, direction=match.group(3).rstrip('s').replace('backward', 'back'))
        if skill in (PUT, DROP):
            obj, target = _split_destination(rest)
            return Command(skill, obj=obj, target=target)
        phrases = _noun_phrases(rest)
        return Command(skill, obj=phrases[0] if phrases else None)
    # An unknown verb: the VLA falls back to approaching the first object it hears.
    phrases = _noun_phrases(clause)
    return Command(MOVE_OVER if phrases else HOVER, obj=phrases[0] if phrases else None)


def _split_destination(rest: str) -> tuple[str | None, str | None]:
    match = re.search(r'\b(onto|on|into|in|inside|to|over|above)\b', rest)
    if not match:
        phrases = _noun_phrases(rest)
        return (phrases[0] if phrases else None), None
    before, after = rest[:match.start()], rest[match.end():]
    obj_phrases, target_phrases = _noun_phrases(before), _noun_phrases(after)
    obj = obj_phrases[0] if obj_phrases else None
    return obj, target_phrases[0] if target_phrases else None


def _noun_phrases(text: str) -> list[str]:
    """Return content-word phrases, split at prepositions and conjunctions."""
    phrases, current = [], []
    for word in text.replace(',', ' ').split():
        if word in ('of', 'to', 'on', 'in', 'into', 'onto', 'over', 'above', 'and', 'then', 'from', 'out', 'it'):
            if current:
                phrases.append(' '.join(current))
            current = []
            continue
        if word not in FUNCTION_WORDS:
            current.append(word)
    if current:
        phrases.append(' '.join(current))
    return phrases


def _trigrams(word: str) -> set[str]:
    padded = f'^{word}$'
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def nearest_known_noun(word: str) -> tuple[str | None, float]:
    """Return the lexicon noun most similar in spelling (Dice on character trigrams) and the similarity."""
    grams = _trigrams(word)
    best, best_score = None, 0.0
    for noun in NOUN_LEXICON:
        other = _trigrams(noun)
        score = 2 * len(grams & other) / (len(grams) + len(other))
        if score > best_score:
            best, best_score = noun, score
    return best, best_score


def phrase_vector(phrase: str) -> np.ndarray:
    """Return the attribute vector the VLA builds for an object phrase."""
    vec = np.zeros(len(ATTRIBUTES))
    for word in phrase.split():
        word = word[:-1] if word.endswith('s') and word[:-1] in NOUN_LEXICON else word
        if word in NOUN_LEXICON:
            vec += NOUN_LEXICON[word]
        elif word in ADJECTIVE_LEXICON:
            vec += ADJECTIVE_LEXICON[word]
        elif word not in FUNCTION_WORDS:
            noun, similarity = nearest_known_noun(word)
            if noun is not None and similarity >= UNKNOWN_WORD_MIN_SIMILARITY:
                vec += NOUN_LEXICON[noun]
    return vec


def ground(phrase: str | None, candidates: tuple[str, ...], appearance: dict[str, np.ndarray] | None = None,
           salience: dict[str, float] | None = None) -> str | None:
    """Return the scene object (from candidates) the phrase refers to for the VLA, or None.

    appearance: how each candidate looks (default OBJECT_APPEARANCE); salience: higher wins a tie
    (scores within TIE_MARGIN of the best); without it the first candidate wins.
    """
    if not phrase or not candidates:
        return None
    query = phrase_vector(phrase)
    if not np.any(query):
        return None
    looks = appearance or OBJECT_APPEARANCE
    scores = np.array([float(query @ looks[name] / np.linalg.norm(looks[name])) for name in candidates])
    best = int(np.argmax(scores))
    if salience is None or scores[best] <= 0:
        return candidates[best]
    tied = [i for i, score in enumerate(scores) if score >= scores[best] * (1.0 - TIE_MARGIN)]
    return candidates[max(tied, key=lambda i: (salience.get(candidates[i], 0.0), -i))]
