"""Colours, textures and garments of the synthetic world, with caption words.

A texture is a function of surface coordinates (arc length around the part, length along
it), in frame-height units, so patterns have a physical size and render the same at any
resolution. Each garment has a front and a different back texture.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.12),
    "orange": (0.95, 0.55, 0.1),
    "yellow": (0.95, 0.85, 0.15),
    "green": (0.15, 0.6, 0.2),
    "teal": (0.1, 0.55, 0.6),
    "blue": (0.15, 0.3, 0.85),
    "purple": (0.5, 0.2, 0.7),
    "pink": (0.95, 0.5, 0.7),
    "white": (0.97, 0.97, 0.97),
    "black": (0.08, 0.08, 0.08),
}
TEXTURES = ("solid", "striped", "checked", "dotted", "printed")
GARMENTS = ("dress", "skirt", "trousers")  # dress; skirt + top; trousers + top
SKIN = [(0.96, 0.8, 0.69), (0.87, 0.67, 0.5), (0.7, 0.5, 0.35), (0.45, 0.3, 0.2)]
HAIR = {"black": (0.1, 0.08, 0.07), "brown": (0.4, 0.25, 0.12), "blond": (0.9, 0.78, 0.45), "red": (0.65, 0.22, 0.1)}


@dataclass
class Texture:
    kind: str
    colour: str  # main colour name (the caption's)
    accent: str  # second colour name of the pattern
    scale: float  # pattern period in frame-height units
    phase: float

    def __call__(self, s: np.ndarray, l: np.ndarray) -> np.ndarray:
        """Colour (n, 3) at arc length s around the surface and length l along it."""
        c1 = np.asarray(PALETTE[self.colour], np.float32)
        c2 = np.asarray(PALETTE[self.accent], np.float32)
        q = self.scale
        if self.kind == "solid":
            mask = np.zeros_like(s, bool)
        elif self.kind == "striped":
            mask = np.sin(2 * np.pi * (l / q + self.phase)) > 0
        elif self.kind == "checked":
            mask = (np.sin(2 * np.pi * (s / q + self.phase)) > 0) ^ (np.sin(2 * np.pi * l / q) > 0)
        elif self.kind == "dotted":
            fs, fl = (s / q + self.phase) % 1.0 - 0.5, (l / q) % 1.0 - 0.5
            mask = fs ** 2 + fl ** 2 < 0.09
        else:  # printed: smooth blotches from a few fixed waves
            w = np.sin(2 * np.pi * (s / q + self.phase)) + np.sin(2 * np.pi * (0.7 * l / q + 0.5 * s / q)) \
                + np.sin(2 * np.pi * (1.3 * l / q - 0.4 * s / q + self.phase))
            mask = w > 0.9
        return np.where(mask[:, None], c2, c1).astype(np.float32)

    @property
    def words(self) -> str:
        return self.colour if self.kind == "solid" else f"{self.colour} {self.kind}"


def random_texture(rng: np.random.Generator, colour: str | None = None, avoid: str | None = None) -> Texture:
    names = list(PALETTE)
    colour = colour or str(rng.choice([c for c in names if c != avoid]))
    accent = str(rng.choice([c for c in names if c != colour]))
    kind = str(rng.choice(TEXTURES))
    return Texture(kind, colour, accent, float(rng.uniform(0.05, 0.08)), float(rng.uniform(0, 1)))


@dataclass
class Outfit:
    garment: str  # dress | skirt | trousers
    top_front: Texture  # the dress itself for a dress
    top_back: Texture
    bottom_front: Texture  # skirt or trousers (for a dress: the same as the top)
    bottom_back: Texture
    sleeves: float  # covered fraction of the arm (0.35 short .. 1.0 long)
    hem: float  # skirt/dress length below the hips, in frame-height units

    def caption(self) -> str:
        top = _a(self.top_front.words)
        if self.garment == "dress":
            return f"a person in {top} dress"
        if self.garment == "skirt":
            return f"a person in {top} top and {_a(self.bottom_front.words)} skirt"
        return f"a person in {top} top and {self.bottom_front.words} trousers"


def _a(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def _back_of(rng: np.random.Generator, front: Texture) -> Texture:
    """A back that differs from the front: another pattern, or the colours swapped."""
    kind = str(rng.choice([k for k in TEXTURES if k != front.kind]))
    return Texture(kind, front.accent if kind != "solid" else front.colour, front.colour, front.scale, front.phase)


def random_outfit(rng: np.random.Generator) -> Outfit:
    garment = str(rng.choice(GARMENTS))
    top = random_texture(rng)
    if garment == "dress":
        bottom = top
    else:
        bottom = random_texture(rng, avoid=top.colour)
        if garment == "trousers":
            bottom = Texture("solid", bottom.colour, bottom.accent, bottom.scale, 0.0)
    sleeves = float(rng.choice([0.35, 0.6, 1.0]))
    hem = float(rng.uniform(0.2, 0.3)) if garment == "dress" else float(rng.uniform(0.12, 0.2))
    top_back = _back_of(rng, top)
    if garment == "dress":
        bottom_back = top_back
    elif garment == "trousers":
        bottom_back = bottom
    else:
        bottom_back = _back_of(rng, bottom)
    return Outfit(garment, top, top_back, bottom, bottom_back, sleeves, hem)
