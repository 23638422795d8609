"""The keypoint layout shared by motion (which computes keypoints from landmarks) and the generator
(which needs their number, roles and mask radii). Indices are MediaPipe Face Mesh landmark numbers
(478-point model with irises)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
RIGID = FACE_OVAL + (168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 9, 151)


@dataclass(frozen=True)
class Keypoint:
    name: str
    landmarks: tuple[int, ...]  # neighbourhood used for the centre and the least-squares affine fit
    sigma: float  # mask radius in template units (the face oval is 2 units tall)


# Keypoint 0 is the head: its motion moves the whole head, hair included, as one piece.
KEYPOINTS: tuple[Keypoint, ...] = (
    Keypoint("head", RIGID, 0.0),
    Keypoint("r_upper_lid", (246, 161, 160, 159, 158, 157, 173, 33, 133, 56, 28, 27, 29, 30), 0.10),
    Keypoint("r_lower_lid", (7, 163, 144, 145, 153, 154, 155, 33, 133, 110, 24, 23, 22), 0.09),
    Keypoint("l_upper_lid", (466, 388, 387, 386, 385, 384, 398, 263, 362, 286, 258, 257, 259, 260), 0.10),
    Keypoint("l_lower_lid", (249, 390, 373, 374, 380, 381, 382, 263, 362, 339, 254, 253, 252), 0.09),
    Keypoint("r_iris", (468, 469, 470, 471, 472), 0.045),
    Keypoint("l_iris", (473, 474, 475, 476, 477), 0.045),
    Keypoint("r_brow", (70, 63, 105, 66, 107, 55, 65, 52, 53, 46), 0.16),
    Keypoint("l_brow", (300, 293, 334, 296, 336, 285, 295, 282, 283, 276), 0.16),
    Keypoint("nose", (1, 4, 5, 195, 98, 327, 2, 94, 19, 48, 278), 0.16),
    Keypoint("upper_lip", (185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415), 0.12),
    Keypoint("lower_lip", (375, 321, 405, 314, 17, 84, 181, 91, 146, 324, 318, 402, 317, 14, 87, 178, 88, 95), 0.12),
    Keypoint("r_mouth_corner", (61, 78, 146, 185, 76, 62, 191, 95), 0.09),
    Keypoint("l_mouth_corner", (291, 308, 375, 409, 306, 292, 415, 324), 0.09),
    Keypoint("upper_inner_lip", (82, 13, 312, 81, 311), 0.06),
    Keypoint("lower_inner_lip", (87, 14, 317, 178, 402), 0.06),
    Keypoint("chin", (152, 148, 176, 377, 400, 175, 199, 200, 18), 0.22),
    Keypoint("r_jaw", (172, 136, 150, 58, 132, 149), 0.22),
    Keypoint("l_jaw", (397, 365, 379, 288, 361, 378), 0.22),
    Keypoint("r_cheek", (50, 101, 118, 117, 123, 205, 187, 207), 0.22),
    Keypoint("l_cheek", (280, 330, 347, 346, 352, 425, 411, 427), 0.22),
    Keypoint("forehead", (10, 109, 67, 103, 338, 297, 332, 151, 9, 108, 337), 0.30),
)

# Distance of the upper- and lower-lid keypoints (template units) = GAP_SLOPE * eye opening + GAP_BASE, fitted
# on lp_d9 / lp_d10 (MediaPipe landmarks 159-145 and 386-374 as the opening); the lid keypoints are means of
# neighbourhoods that include the eye corners and creases, so they move only about half as far as the lids.
GAP_SLOPE, GAP_BASE = 0.567, 0.053

NUM_KP = len(KEYPOINTS)
KP_INDEX = {k.name: i for i, k in enumerate(KEYPOINTS)}
SIGMAS = np.array([k.sigma for k in KEYPOINTS], dtype=np.float32)
