"""A smiling portrait keeps its own teeth when the driver opens the mouth (the demo astronaut smiles with
her teeth showing): the closed-form warp stretches them instead of painting a grey interior over them."""
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
    kd[0, li, 1] += 0.8 * gap  # the driver opens the mouth further: the lower lip drops by 0.8 of her gap
    kd[0, KP_INDEX["lower_lip"], 1] += 0.8 * gap
    with torch.no_grad():
        cache = enc(torch.from_numpy(p.crop), torch.from_numpy(kp), torch.from_numpy(jac))
        image = gen(*cache, torch.from_numpy(kd), torch.from_numpy(jac))[0]
    s = cfg.image_size
    src = p.crop[0].transpose(1, 2, 0)
    out = image.numpy()[0].transpose(1, 2, 0)

    def between_lips(k):  # a small patch centred between the inner lips, a third of the gap tall
        c = (k[0, ui] + k[0, li]) / 2
        x, y = ((c + 1) / 2 * s).astype(int)
        h = max(int((k[0, li, 1] - k[0, ui, 1]) / 2 * s / 6), 1)
        return (slice(y - h, y + h + 1), slice(x - 4, x + 5))

    teeth = src[between_lips(kp)]
    assert teeth.mean() > 0.6  # her teeth: bright
    shown = out[between_lips(kd)]
    assert shown.mean() > 0.85 * teeth.mean()  # still teeth, not a dark or grey disc
    assert np.abs(shown.mean(-1) - teeth.mean(-1).mean()).mean() < 0.15
