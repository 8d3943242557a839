"""Image codes for Q_sem's state: an offline colour-layout code, and a pretrained encoder via transformers.

Why a colour-layout code offline: no pretrained vision weights can be downloaded here, and what the
tasks' state hinges on is *which colour sits where* (the red pot on the right, the pink toy on the
left, a brown hammer on the white plate) and *how much of a colour is visible* (the larger bowl covers
more pixels). A grid of per-cell colour histograms states exactly that, linearly, in ~100 numbers that
a small MLP can use after a few hundred transitions; a raw thumbnail holds the same information but
entangled with lighting and position, and fixed random conv features add cost without adding
knowledge. It is deterministic, needs no training and costs ~1 ms per frame.

On a robot a lab swaps it for a pretrained encoder (`PretrainedImageEncoder`, e.g. a SigLIP/DINOv2/
CLIP vision tower loaded with transformers): same interface, `dim` and `encode(image)`.
"""
from __future__ import annotations

import numpy as np

# Prototype colours (RGB 0..1) a pixel is assigned to; the table and the dark arm have their own,
# so they do not pollute the object colours.
PROTOTYPES = {
    'white': (0.95, 0.95, 0.93), 'silver': (0.72, 0.73, 0.76), 'dark': (0.15, 0.15, 0.16),
    'red': (0.80, 0.17, 0.14), 'orange': (0.95, 0.47, 0.15), 'yellow': (0.93, 0.84, 0.22),
    'green': (0.23, 0.63, 0.26), 'blue': (0.22, 0.37, 0.82), 'pink': (0.94, 0.57, 0.72),
    'brown': (0.58, 0.40, 0.25), 'table': (0.60, 0.50, 0.38),
}


class ColourLayoutEncoder:
    """Per cell of a rows x columns grid, the share of pixels nearest each prototype colour."""

    def __init__(self, rows: int = 3, columns: int = 4, working_side: int = 48, skip=('table',)):
        if rows <= 0 or columns <= 0 or working_side < max(rows, columns):
            raise ValueError(f'bad grid {rows}x{columns} for a {working_side}-pixel working image')
        self.rows, self.columns, self.working_side = int(rows), int(columns), int(working_side)
        names = list(PROTOTYPES)
        self.palette = np.array([PROTOTYPES[n] for n in names], dtype=np.float32)
        self.kept = np.array([i for i, n in enumerate(names) if n not in skip])
        self.colour_names = tuple(names[i] for i in self.kept)
        self.dim = self.rows * self.columns * len(self.kept)

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the code of an HxWx3 uint8 RGB frame (any resolution), float32 in [0, 1]."""
        frame = _checked_frame(image)
        import cv2
        small = cv2.resize(frame, (self.working_side, self.working_side), interpolation=cv2.INTER_AREA)
        pixels = small.reshape(-1, 3).astype(np.float32) / 255.0
        distances = ((pixels[:, None, :] - self.palette[None, :, :]) ** 2).sum(axis=2)
        nearest = distances.argmin(axis=1).reshape(self.working_side, self.working_side)
        code = np.zeros((self.rows, self.columns, len(self.kept)), dtype=np.float32)
        row_edges = np.linspace(0, self.working_side, self.rows + 1).astype(int)
        col_edges = np.linspace(0, self.working_side, self.columns + 1).astype(int)
        for r in range(self.rows):
            for c in range(self.columns):
                cell = nearest[row_edges[r]:row_edges[r + 1], col_edges[c]:col_edges[c + 1]]
                counts = np.bincount(cell.reshape(-1), minlength=len(self.palette)).astype(np.float32)
                code[r, c] = counts[self.kept] / max(cell.size, 1)
        return code.reshape(-1)


class ThumbnailEncoder:
    """A side x side RGB thumbnail: the block means of the frame, scaled to [0, 1] (side x side x 3 values)."""

    name = 'thumbnail'

    def __init__(self, side: int = 8):
        if side <= 0:
            raise ValueError(f'thumbnail side must be positive, got {side}')
        self.side = int(side)
        self.dim = 3 * self.side * self.side

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the thumbnail of an HxWx3 frame whose sides the thumbnail's side divides, flattened."""
        image = np.asarray(image, dtype=np.float32)
        side = self.side
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] % side or image.shape[1] % side:
            raise ValueError(f'expected an HxWx3 image with sides divisible by {side}, got {image.shape}')
        h, w = image.shape[0] // side, image.shape[1] // side
        blocks = image.reshape(side, h, side, w, 3).mean(axis=(1, 3))
        return (blocks / 255.0).reshape(-1).astype(np.float32)


class PretrainedImageEncoder:
    """A pretrained vision model loaded through transformers; the code is its pooled embedding.

    `model` is a hub name or a local directory (a vision model: ViT, DINOv2, SigLIP/CLIP vision
    tower). Loading happens here, once; `encode` runs one forward pass without gradients.
    """

    def __init__(self, model: str, device: str = 'cpu'):
        import torch
        from transformers import AutoImageProcessor, AutoModel
        self.torch = torch
        self.processor = AutoImageProcessor.from_pretrained(model)
        loaded = AutoModel.from_pretrained(model)
        # A CLIP/SigLIP checkpoint holds text and vision towers: only the vision one is needed.
        self.model = getattr(loaded, 'vision_model', loaded).to(device).eval()
        self.device = device
        config = getattr(loaded.config, 'vision_config', loaded.config)
        self.dim = int(config.hidden_size)

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the pooled embedding of an HxWx3 uint8 RGB frame as float32."""
        frame = _checked_frame(image)
        inputs = self.processor(images=frame, return_tensors='pt').to(self.device)
        with self.torch.no_grad():
            output = self.model(pixel_values=inputs['pixel_values'])
        pooled = getattr(output, 'pooler_output', None)
        if pooled is None:
            pooled = output.last_hidden_state.mean(dim=1)
        return pooled[0].float().cpu().numpy().astype(np.float32)


def _checked_frame(image) -> np.ndarray:
    frame = np.asarray(image)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 RGB frame, got {frame.dtype} {frame.shape}')
    return frame


IMAGE_ENCODERS = ('colour_layout', 'thumbnail', 'pretrained')
DEFAULT_IMAGE_ENCODER = IMAGE_ENCODERS[0]  # offline, and what the simulated benchmark trains with


def make_image_encoder(name: str = DEFAULT_IMAGE_ENCODER, **kw):
    """Return 'colour_layout' (offline default), 'thumbnail' (kw: side) or 'pretrained' (kw: model=<name or dir>)."""
    if name == 'colour_layout':
        return ColourLayoutEncoder(**kw)
    if name == 'thumbnail':
        return ThumbnailEncoder(**kw)
    if name == 'pretrained':
        return PretrainedImageEncoder(**kw)
    raise ValueError(f'unknown image encoder {name!r}; choose one of {", ".join(IMAGE_ENCODERS)}')
