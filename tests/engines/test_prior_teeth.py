"""The mouth: a smiling portrait keeps its own teeth when the driver opens the mouth (the demo astronaut smiles
with her teeth showing), and the teeth painted into a closed mouth look like teeth."""
import numpy as np
import torch

from mimicam.engines.config import get_config
from mimicam.engines.layout import KP_INDEX
from mimicam.engines.model import build_modules


def test_a_smiling_portrait_keeps_its_teeth(portrait_path):
    from mimicam.realtime.portrait import prepare_portrait

    cfg = get_config("lite")
    p = prepare_portrait(portrait_path, cfg.image_size)
    enc, gen = build_modules(cfg)  # untrained: the closed form, its image the whole crop
    kp, jac = p.motion.kp[None], p.motion.jac[None]
    ui, li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
    gap = float(kp[0, li, 1] - kp[0, ui, 1])
    kd = kp.copy()
    kd[0, li, 1] += 2.5 * gap  # the driver opens the mouth wide: the lower lip drops by 2.5 of her gap
    kd[0, KP_INDEX["lower_lip"], 1] += 2.5 * gap
    with torch.no_grad():
        cache = enc(torch.from_numpy(p.crop), torch.from_numpy(kp), torch.from_numpy(jac))
        image = gen(*cache, torch.from_numpy(kd), torch.from_numpy(jac))[0]
        talk = kp.copy()  # talking: a new opening of 0.5 of her gap (about 3 crop pixels)
        talk[0, li, 1] += 0.5 * gap
        talk[0, KP_INDEX["lower_lip"], 1] += 0.5 * gap
        talk_paint = gen(*cache, torch.from_numpy(talk), torch.from_numpy(jac))[3]
    # a new opening below 2 flow pixels is left to the warp (its small stretch looks natural; the flow cannot
    # keep teeth, a dark band and the lower lip apart at that size)
    assert float(talk_paint.max()) < 0.05
    s = cfg.image_size
    src = p.crop[0].transpose(1, 2, 0)
    out = image.numpy()[0].transpose(1, 2, 0)

    x_s, x_d = (int(((k[0, ui, 0] + k[0, li, 0]) / 2 + 1) / 2 * s) for k in (kp, kd))
    rows = lambda k: [int((k[0, i, 1] + 1) / 2 * s) for i in (ui, li)]  # noqa: E731 - inner lips' rows
    (t0, t1), (d0, d1) = rows(kp), rows(kd)
    src_col = src[t0:t1 + 1, x_s - 3:x_s + 4].mean((1, 2))  # her mouth, top to bottom, at its centre
    out_col = out[d0:d1 + 1, x_d - 3:x_d + 4].mean((1, 2))
    teeth = src_col[: (t1 - t0) // 2 + 1]  # her upper teeth: the upper half of her open mouth
    assert teeth.mean() > 0.6  # bright
    upper = out_col[: len(teeth)]
    assert upper.mean() > 0.8 * teeth.mean()  # her own upper teeth, still on her upper lip: not a grey disc
    n = len(out_col)  # 3.5 of her gap: the lower 2.5 / 3.5 of it is new
    roof, lower = out_col[int(0.3 * n): int(0.5 * n)], out_col[int(0.5 * n): int(0.9 * n)]
    assert roof.mean() < 0.5 * teeth.mean()  # the newly opened part, above the lower lip, is dark mouth ...
    assert lower.mean() < 0.6 * teeth.mean()  # (its floor, the tongue, a little lighter)
    bright = int((out_col > 0.75 * teeth.mean()).sum())
    assert bright <= 1.3 * int((src_col > 0.75 * teeth.mean()).sum()) + 2  # ... not her teeth stretched tall


def test_painted_teeth_take_the_portraits_light_and_cast():
    """Teeth painted into a newly opened mouth are lit like the portrait: grey in a black-and-white photo,
    dim at night, ivory (red over blue) on warm skin, never brighter than off-white."""
    from mimicam.engines.model import TEETH_LUMA_MAX, teeth_colour

    def teeth(bgr):
        return teeth_colour(torch.tensor(bgr, dtype=torch.float32).view(1, 3, 1, 1)).view(3).numpy()

    grey = teeth((0.5, 0.5, 0.5))
    assert np.ptp(grey) < 1e-4 and 0.6 < grey[0] < 0.8  # no colour cast of its own, brighter than the skin
    night, day = teeth((0.08, 0.1, 0.13)), teeth((0.45, 0.6, 0.8))
    assert night.mean() < 0.5 < day.mean()
    assert day[2] > day[1] > day[0]  # warm light: ivory, not the blue-grey of a fixed colour
    assert teeth((1.0, 1.0, 1.0)).max() <= TEETH_LUMA_MAX + 1e-5


def test_the_mouth_interior_is_a_deeper_darker_lip_colour():
    """An open mouth is dark and warm where the lips are red (a darkened pink read as a grey hole), and stays
    grey in a black-and-white photo."""
    from mimicam.engines.model import interior_colour

    def inside(bgr):
        return interior_colour(torch.tensor(bgr, dtype=torch.float32).view(1, 3, 1, 1)).view(3).numpy()

    grey = inside((0.5, 0.5, 0.5))
    assert np.ptp(grey) < 1e-4 and grey[0] < 0.2
    pink = np.array((0.55, 0.55, 0.75))
    deep = inside(tuple(pink))
    assert deep.max() < 0.35  # dark
    assert deep[2] / deep[0] > pink[2] / pink[0]  # redder than the lips themselves


def _painted_mouth(opening: float, interior, teeth: float):
    """A closed mouth on the example face, opened by ``opening`` mouth widths: the prior's mouth fill and colour
    along the mouth's centre column, top to bottom: (fill (rows,), colour (rows, BGR), mouth width in crop
    units). ``interior``: BGR of the interior; ``teeth``: the teeth's grey."""
    from mimicam.engines.export import example_inputs
    from mimicam.engines.prior import FirstOrderPrior

    cfg = get_config("lite")
    f = example_inputs(cfg)
    kp_s, jac = f["kp_source_in"].copy(), torch.from_numpy(f["jac_source_in"])
    ui, li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
    kp_s[0, li, 1] = kp_s[0, ui, 1] + 0.005  # a closed mouth
    width = float(np.linalg.norm(kp_s[0, KP_INDEX["l_mouth_corner"]] - kp_s[0, KP_INDEX["r_mouth_corner"]]))
    colours = torch.tensor([[c, teeth] for c in interior], dtype=torch.float32).view(1, 3, 1, 2)
    kp_d = kp_s.copy()
    kp_d[0, li, 1] += opening * width
    with torch.no_grad():
        fill, colour = FirstOrderPrior(cfg).eval().mouth(torch.from_numpy(kp_s), jac, torch.from_numpy(kp_d), jac,
                                                         colours)
    s = cfg.image_size
    x = int(((kp_d[0, ui, 0] + kp_d[0, li, 0]) / 2 + 1) / 2 * s)
    y0, y1 = (int((kp_d[0, k, 1] + 1) / 2 * s) for k in (ui, li))
    return fill[0, 0, y0:y1 + 1, x].numpy(), colour[0, :, y0:y1 + 1, x].numpy().T, width * s / 2


def test_the_painted_upper_teeth_keep_their_size_as_the_mouth_opens():
    """The upper teeth are a physical size below the upper lip: a wider opening shows more dark mouth, not
    taller teeth (the grey block of 0.1.x grew with the opening)."""
    heights, darks = [], []
    for opening in (0.25, 0.5):
        fill, colour, width_px = _painted_mouth(opening, (0.05, 0.05, 0.1), 0.9)
        column = fill * colour.mean(1)  # what the paint shows, top to bottom
        assert fill[(len(fill) - 1) // 2] > 0.8  # the new interior is painted
        heights.append(int((column > 0.3).sum()))
        darks.append(int((column < 0.2).sum()))
    assert heights[0] >= 3  # teeth are shown (about 0.13 mouth widths: 3 px on this 25-px mouth)
    assert abs(heights[1] - heights[0]) <= 1
    assert darks[1] > darks[0] + 0.2 * width_px  # the opening shows more dark mouth


def test_a_wide_open_mouth_has_a_shaded_roof_and_a_tongue():
    """The painted interior is not a flat disc: its roof, under the upper teeth, is in shadow; on a wide opening a
    tongue shows over its floor (lighter, and pinker than grey but less deep than the interior), and a mouth
    opened a little shows none."""
    interior = np.array([0.05, 0.06, 0.2])  # BGR: a deep red

    def column(opening, teeth=0.9):
        return _painted_mouth(opening, interior, teeth)[1]  # (rows, BGR), top to bottom

    wide = column(0.6)
    n = len(wide)
    roof = wide[int(0.35 * n):int(0.45 * n)].mean(0)  # below the painted upper teeth
    floor = wide[int(0.75 * n):int(0.9 * n)].mean(0)  # the tongue
    assert roof.sum() < 0.85 * interior.sum()          # the roof in shadow
    assert floor.sum() > 1.5 * roof.sum()              # the tongue lighter than the roof
    assert 1.2 < floor[2] / floor[0] < interior[2] / interior[0]   # pink: redder than grey, less deep
    narrow = column(0.12, teeth=float(interior.mean()))   # teeth as dark as the interior: only the light shows
    assert narrow.sum(1).max() <= interior.sum() + 1e-4   # no tongue in a small opening
    assert column(0.6, teeth=float(interior.mean())).sum(1).max() > 1.2 * interior.sum()   # (in a wide one, yes)


def test_the_interior_takes_the_skins_cast_and_stays_grey_in_black_and_white():
    """Pale lips in a warm photo (the demo astronaut) gave a blue-grey mouth: the interior also takes the skin's
    chroma, the light's cast; a grey skin (black and white) changes nothing."""
    from mimicam.engines.model import interior_colour

    def c(v):
        return torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1)

    pale = c((0.69, 0.74, 0.89))                      # BGR: the astronaut's lips
    warm, grey = c((0.53, 0.64, 0.77)), c((0.6, 0.6, 0.6))
    alone, cast = interior_colour(pale).view(3), interior_colour(pale, warm).view(3)
    assert cast[2] / cast[0] > 1.3 * alone[2] / alone[0]   # redder over blue
    luma = lambda x: float((x * torch.tensor((0.114, 0.587, 0.299))).sum())  # noqa: E731
    assert abs(luma(cast) - luma(alone)) < 0.02          # as dark
    torch.testing.assert_close(interior_colour(pale, grey), interior_colour(pale))


def test_a_slit_is_painted_dark_not_as_a_line_of_teeth():
    """A mouth opened to a slit shows its shadow; teeth come in as the gap opens (in a slit they were a thin
    light line, which the warp's lips, about 0.7 of the driven opening, left beside them)."""
    from mimicam.engines.prior import FirstOrderPrior
    from mimicam.engines.template import example_motion

    cfg = get_config("lite")
    kp, jac = (torch.from_numpy(a) for a in example_motion(cfg, np.random.default_rng(0), 0.0))
    ui, li = KP_INDEX["upper_inner_lip"], KP_INDEX["lower_inner_lip"]
    lo, rc, lc = KP_INDEX["lower_lip"], KP_INDEX["r_mouth_corner"], KP_INDEX["l_mouth_corner"]
    kp[0, li, 1] = kp[0, ui, 1] + 0.002  # a closed portrait mouth
    width = float(torch.linalg.vector_norm(kp[0, lc] - kp[0, rc]))
    prior = FirstOrderPrior(cfg)
    colours = torch.tensor([[[[0.1, 0.9]], [[0.1, 0.9]], [[0.1, 0.9]]]])  # dark interior, light teeth

    def painted(opening: float) -> tuple[float, float]:
        kd = kp.clone()
        kd[0, li, 1] += opening * width
        kd[0, lo, 1] += opening * width
        with torch.no_grad():
            fill, colour = prior.mouth(kp, jac, kd, jac, colours)
        inside = fill[0, 0] > 0.5
        return int(inside.sum()), float(colour[0, :, inside].mean(0).max())

    slit_px, slit_light = painted(0.02)
    open_px, open_light = painted(0.15)
    assert slit_px > 10 and slit_light < 0.2     # painted, and dark
    assert open_px > slit_px and open_light > 0.5  # a real opening shows its upper teeth
