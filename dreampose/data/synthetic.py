"""The synthetic fashion-video world: articulated people turning and posing, with cloth dynamics.

Each video is a subject (body proportions, skin, hair, outfit) performing a UBC-like motion:
turning in place through front, side and back views, swinging arms and shifting weight, at
30 fps. The skirt or dress hem and long hair lag and swing with the body's angular velocity
and sway (damped springs run through the video), so a frame's cloth shape depends on its
neighbouring poses: this is what the paper's 5-pose window can use and 1 pose cannot.

Exact DensePose-style IUV comes from the geometry. Part indices follow DensePose's 24 parts:
1/2 torso back/front, 3/4 right/left hand, 5/6 left/right foot, 7/9 upper leg right
back/front, 8/10 upper leg left back/front, 11/13 lower leg right back/front, 12/14 lower leg
left back/front, 15/17 upper arm left back/front, 16/18 upper arm right back/front, 19/21
lower arm left back/front, 20/22 lower arm right back/front, 23/24 head right/left. As in
DensePose, clothing is surface: a skirt is labelled as the upper legs it covers (by quadrant),
hair as head. U runs around the part within its half (or quadrant), V along it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .garments import HAIR, SKIN, Outfit, random_outfit
from .render import Canvas, Capsule

PI = np.pi
SHOE = np.array([0.18, 0.16, 0.15], np.float32)
FEATURE = np.array([0.12, 0.1, 0.45], np.float32)  # eyes and mouth: dark blue, unlike any skin or hair


@dataclass
class Subject:
    height: float  # person height in frame-height units
    shoulder: float  # half widths, in person-height units
    hip: float
    arm_r: float
    leg_r: float
    head_r: float
    skin: int
    hair: str
    long_hair: bool
    outfit: Outfit

    def meta(self) -> dict:
        o = self.outfit
        return {
            "garment": o.garment, "sleeves": o.sleeves, "skin": self.skin, "hair": self.hair,
            "long_hair": self.long_hair,
            "top_front": vars(o.top_front), "top_back": vars(o.top_back),
            "bottom_front": vars(o.bottom_front), "bottom_back": vars(o.bottom_back),
        }


def random_subject(rng: np.random.Generator) -> Subject:
    return Subject(
        height=float(rng.uniform(0.78, 0.88)), shoulder=float(rng.uniform(0.085, 0.11)),
        hip=float(rng.uniform(0.055, 0.07)), arm_r=float(rng.uniform(0.022, 0.028)),
        leg_r=float(rng.uniform(0.032, 0.04)), head_r=float(rng.uniform(0.055, 0.065)),
        skin=int(rng.integers(len(SKIN))), hair=str(rng.choice(list(HAIR))),
        long_hair=bool(rng.random() < 0.5), outfit=random_outfit(rng),
    )


def _spring(drive: np.ndarray, dt: float, k: float = 60.0, c: float = 6.0) -> np.ndarray:
    """Damped spring x'' = k (drive - x) - c x', integrated through the video (cloth lag)."""
    x, v, out = float(drive[0]), 0.0, np.empty_like(drive)
    for i, target in enumerate(drive):
        v += dt * (k * (target - x) - c * v)
        x += dt * v
        out[i] = x
    return out


@dataclass
class Motion:
    yaw: np.ndarray  # (T,) radians, 0 = facing the camera
    sway: np.ndarray  # (T,) hip shift (person-height units)
    flex: np.ndarray  # (T, 2) arm swing forward (left, right), radians
    abduct: np.ndarray  # (T, 2) arm raised sideways
    elbow: np.ndarray  # (T, 2) elbow bend
    knee: np.ndarray  # (T, 2) knee bend (weight shifts)
    hem_twist: np.ndarray  # (T,) skirt hem yaw lag
    hem_shift: np.ndarray  # (T,) skirt hem lateral swing
    hem_flare: np.ndarray  # (T,) skirt hem radius factor
    hair_shift: np.ndarray  # (T,) long hair lateral swing


def random_motion(rng: np.random.Generator, n_frames: int, fps: int) -> Motion:
    """A UBC-like motion: turning in place at a varying speed, arm swings, weight shifts."""
    dt = 1.0 / fps
    t = np.arange(n_frames) * dt
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    speed = u(1.2, 2.6) * rng.choice([-1, 1]) * (1 + 0.8 * np.sin(2 * PI * t / u(1.2, 2.5) + u(0, 2 * PI)))
    yaw = u(-0.3, 0.3) + np.cumsum(speed) * dt
    sway = u(0.005, 0.02) * np.sin(2 * PI * u(0.3, 0.8) * t + u(0, 2 * PI))
    f, ph = u(0.5, 1.2), u(0, 2 * PI)
    amp = u(0.15, 0.6)
    flex = np.stack([amp * np.sin(2 * PI * f * t + ph), -amp * np.sin(2 * PI * f * t + ph)], 1)
    abduct = np.stack([np.full_like(t, u(0.1, 0.5)), np.full_like(t, u(0.1, 0.5))], 1)
    abduct += 0.15 * np.sin(2 * PI * u(0.2, 0.6) * t + u(0, 2 * PI))[:, None]
    elbow = np.stack([np.full_like(t, u(0.05, 0.9)), np.full_like(t, u(0.05, 0.9))], 1)
    return with_dynamics(yaw, sway, flex, abduct, elbow, fps)


def with_dynamics(yaw, sway, flex, abduct, elbow, fps: int) -> Motion:
    """Complete a body motion with what follows from it: knee bends and cloth/hair lag.

    The hem twist, swing and flare and the hair swing are damped springs driven by the yaw
    rate and the sway velocity, so they depend on the frames before, not only on the pose.
    """
    dt = 1.0 / fps
    rate = np.gradient(yaw, dt) if len(yaw) > 1 else np.zeros_like(yaw)
    shift = np.gradient(sway, dt) if len(sway) > 1 else np.zeros_like(sway)
    knee = 0.25 * np.clip(np.stack([shift, -shift], 1) / 0.05, 0, 1)
    hem_twist = _spring(-0.35 * np.tanh(rate / 2.0), dt)
    hem_shift = _spring(-0.05 * np.tanh(rate / 2.5) - 0.8 * shift, dt)
    hem_flare = 1.0 + 0.3 * np.tanh(np.abs(_spring(rate, dt, k=30.0)) / 2.5)
    hair_shift = _spring(-0.04 * np.tanh(rate / 2.0), dt, k=40.0, c=4.0)
    return Motion(yaw, sway, flex, abduct, elbow, knee, hem_twist, hem_shift, hem_flare, hair_shift)


def _halves(psi: np.ndarray, back: int, front: int) -> tuple[np.ndarray, np.ndarray]:
    """(part, U) for a part split into back/front halves by the azimuth psi."""
    is_front = np.abs(psi) < PI / 2
    u_front = (psi + PI / 2) / PI
    u_back = ((psi % (2 * PI)) - PI / 2) / PI
    return np.where(is_front, front, back).astype(np.uint8), np.where(is_front, u_front, u_back)


class _Body:
    """Joint positions of one subject over a motion, projected to the screen."""

    def __init__(self, subject: Subject, motion: Motion, aspect: float):
        self.s, self.m = subject, motion
        self.h = subject.height
        self.cx = aspect / 2 + motion.sway * self.h
        self.top = 0.95 - self.h  # feet on a ground line at 0.95
        self.cos, self.sin = np.cos(motion.yaw), np.sin(motion.yaw)

    def project(self, x, y, z):
        """Body-frame point(s) (person-height units; +x = the person's left) -> screen xy, depth."""
        x, y, z = (np.broadcast_to(np.asarray(v, np.float64), self.cos.shape) for v in (x, y, z))
        sx = self.cx + self.h * (x * self.cos + z * self.sin)
        depth = self.h * (-x * self.sin + z * self.cos)
        return np.stack([sx, self.top + self.h * y], 1), depth

    def capsule(self, p0, p1, r0, r1, shade, yaw=None, bias=0.0, caps=True) -> Capsule:
        (a, za), (b, zb) = self.project(*p0), self.project(*p1)
        n = len(self.cos)
        r0 = np.broadcast_to(np.asarray(r0 * self.h, np.float64), (n,))
        r1 = np.broadcast_to(np.asarray(r1 * self.h, np.float64), (n,))
        return Capsule(a, b, za, zb, r0, r1, self.m.yaw if yaw is None else yaw, shade, bias, caps)


def _shader(texture_front, texture_back, back: int, front: int, radius: float, length: float, l0: float = 0.0,
            skin=None, covered=None):
    """Shade a limb: garment texture where ``covered(l)`` (or everywhere), skin elsewhere."""

    def shade(psi, t, f):
        part, u = _halves(psi, back, front)
        s, l = psi * radius, l0 + t * length
        colour = np.where((np.abs(psi) < PI / 2)[:, None], texture_front(s, l), texture_back(s, l))
        if skin is not None:
            cov = covered(l) if covered is not None else np.zeros_like(l, bool)
            colour = np.where(cov[:, None], colour, skin)
        return colour, part, u, t

    return shade


def _flat(colour):
    return lambda s, l: np.broadcast_to(colour, (len(s), 3))


def _draw_arms(canvas, body, s: Subject, m: Motion, skin, y_sh: float) -> None:
    """Upper arm, forearm and hand of each side; sleeves cover the first ``outfit.sleeves`` of the arm."""
    o = s.outfit
    upper, fore = 0.17, 0.15
    sleeve = lambda l: l < o.sleeves * (upper + fore)  # noqa: E731
    # upper (15/17 left, 16/18 right), lower (19/21 left, 20/22 right), hands (4 left, 3 right)
    for j, (side, (ub, uf, lb, lf, hand)) in enumerate(((1, (15, 17, 19, 21, 4)), (-1, (16, 18, 20, 22, 3)))):
        a, b, e = m.abduct[:, j], m.flex[:, j], m.elbow[:, j]
        shoulder = np.array([side * s.shoulder * 1.05, y_sh + 0.02, 0.0])
        d1 = np.stack([side * np.sin(a), np.cos(a) * np.cos(b), np.cos(a) * np.sin(b)])
        d2 = np.stack([side * np.sin(a), np.cos(a) * np.cos(b + e), np.cos(a) * np.sin(b + e)])
        elbow = shoulder[:, None] + upper * d1
        wrist = elbow + fore * d2
        canvas.draw(body.capsule(shoulder, elbow, s.arm_r * 1.1, s.arm_r,
                                 _shader(o.top_front, o.top_back, ub, uf, s.arm_r, upper, 0, skin, sleeve)))
        canvas.draw(body.capsule(elbow, wrist, s.arm_r, 0.8 * s.arm_r,
                                 _shader(o.top_front, o.top_back, lb, lf, s.arm_r, fore, upper, skin, sleeve)))
        canvas.draw(body.capsule(wrist, wrist + 0.05 * d2, 0.9 * s.arm_r, 0.8 * s.arm_r,
                                 lambda psi, t, f, hand=hand: (np.broadcast_to(skin, (len(t), 3)),
                                                               np.full(len(t), hand, np.uint8), (psi + PI) / (2 * PI), t)))


def render_video(subject: Subject, motion: Motion, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T,H,W,3) uint8 and IUV (T,H,W,3) uint8 of ``subject`` performing ``motion``."""
    body = _Body(subject, motion, width / height)
    s, m, o = subject, motion, subject.outfit
    skin = np.asarray(SKIN[s.skin], np.float32)
    hair = np.asarray(HAIR[s.hair], np.float32)
    canvas = Canvas(len(m.yaw), height, width, np.array([0.93, 0.93, 0.91], np.float32))
    y_sh, y_hip, y_knee, y_ankle = 0.2, 0.52, 0.74, 0.96
    bottom_on_legs = o.garment == "trousers"

    # torso (elliptical cross-section: narrower seen from the side)
    width_t = np.sqrt((s.shoulder * body.cos) ** 2 + (0.55 * s.shoulder * body.sin) ** 2)
    width_b = np.sqrt((s.hip * 1.3 * body.cos) ** 2 + (0.7 * s.hip * 1.3 * body.sin) ** 2)
    canvas.draw(body.capsule((0, y_sh - 0.01, 0), (0, y_hip, 0), width_t, width_b,
                             _shader(o.top_front, o.top_back, 1, 2, s.shoulder, y_hip - y_sh), caps=False))
    # legs: upper (7/9 right, 8/10 left), lower (11/13 right, 12/14 left), feet (6 right, 5 left)
    for side, (ub, uf, lb, lf, foot) in ((1, (8, 10, 12, 14, 5)), (-1, (7, 9, 11, 13, 6))):
        k = m.knee[:, 0 if side == 1 else 1]
        hip = (side * s.hip, y_hip, 0)
        knee = (side * s.hip, y_knee, 0.12 * k)
        ankle = (side * s.hip, y_ankle, 0)
        cov = (lambda l: np.ones_like(l, bool)) if bottom_on_legs else None
        tf, tb = (o.bottom_front, o.bottom_back) if bottom_on_legs else (_flat(skin), _flat(skin))
        canvas.draw(body.capsule(hip, knee, s.leg_r, 0.85 * s.leg_r, _shader(tf, tb, ub, uf, s.leg_r, y_knee - y_hip, 0, skin, cov)))
        canvas.draw(body.capsule(knee, ankle, 0.85 * s.leg_r, 0.6 * s.leg_r,
                                 _shader(tf, tb, lb, lf, s.leg_r, y_ankle - y_knee, y_knee - y_hip, skin, cov)))
        canvas.draw(body.capsule(ankle, (side * s.hip, y_ankle + 0.01, 0.06), 0.6 * s.leg_r, 0.5 * s.leg_r,
                                 lambda psi, t, f, foot=foot: (np.broadcast_to(SHOE, (len(t), 3)),
                                                               np.full(len(t), foot, np.uint8), (psi + PI) / (2 * PI), t)))
    _draw_arms(canvas, body, s, m, skin, y_sh)
    # skirt or dress: two cone segments; the lower one lags (twist, swing) and flares
    if o.garment != "trousers":
        mid_y = y_hip + 0.45 * o.hem
        r_hip = 1.25 * s.hip + 0.6 * s.leg_r
        r_mid = 1.1 * r_hip
        quad = _skirt_shader(o, skin)
        canvas.draw(body.capsule((0, y_hip - 0.03, 0), (0, mid_y, 0), r_hip, r_mid, quad(0.0, 0.45), caps=False))
        canvas.draw(body.capsule((0, mid_y - 0.01, 0), (m.hem_shift, y_hip + o.hem, 0), r_mid, r_mid * 1.15 * m.hem_flare,
                                 quad(0.45, 0.55), yaw=m.yaw + m.hem_twist, caps=False))
    # neck and head (23 right, 24 left), face marker on the front only, hair cap and long hair
    canvas.draw(body.capsule((0, y_sh - 0.04, 0), (0, y_sh + 0.02, 0), 0.35 * s.head_r, 0.4 * s.head_r,
                             _shader(_flat(skin), _flat(skin), 1, 2, s.head_r, 0.05)))
    y_head = y_sh - 0.04 - s.head_r
    canvas.draw(body.capsule((0, y_head - 0.4 * s.head_r, 0), (0, y_head + 0.4 * s.head_r, 0), s.head_r, s.head_r,
                             _head_shader(skin, hair)))
    if s.long_hair:
        canvas.draw(body.capsule((0, y_head, -0.5 * s.head_r), (m.hair_shift, y_sh + 0.1, -0.6 * s.head_r),
                                 0.9 * s.head_r, 0.9 * s.head_r, _hair_shader(hair), bias=-0.2 * s.head_r * s.height))
    return canvas.result()


def _skirt_shader(o: Outfit, skin):
    """Skirt pixels are upper legs (DensePose has no skirt part): quadrant by azimuth."""

    def make(t0: float, span: float):
        def shade(psi, t, f):
            front = np.abs(psi) < PI / 2
            left = psi >= 0
            part = np.where(front, np.where(left, 10, 9), np.where(left, 8, 7)).astype(np.uint8)
            u = (psi % (PI / 2)) / (PI / 2)
            s, l = psi * 0.1, (t0 + span * t) * o.hem
            colour = np.where(front[:, None], o.bottom_front(s, l), o.bottom_back(s, l))
            return colour, part, u, t0 + span * t

        return shade

    return make


def _head_shader(skin, hair):
    def shade(psi, t, f):
        colour = np.broadcast_to(skin, (len(t), 3)).copy()
        eyes = (np.abs(np.abs(psi) - 0.45) < 0.25) & (t > 0.35) & (t < 0.6)
        mouth = (np.abs(psi) < 0.3) & (t > 0.75) & (t < 0.88)
        colour[eyes | mouth] = FEATURE
        cap = (t < 0.28) | (np.abs(psi) > 1.9)
        colour[cap] = hair
        part = np.where(psi < 0, 23, 24).astype(np.uint8)
        return colour, part, np.where(psi < 0, psi + PI, psi) / PI, t

    return shade


def _hair_shader(hair):
    def shade(psi, t, f):
        return np.broadcast_to(hair, (len(t), 3)), np.where(psi < 0, 23, 24).astype(np.uint8), \
            np.where(psi < 0, psi + PI, psi) / PI, t

    return shade
