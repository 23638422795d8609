import numpy as np

from mimicam.realtime.provenance import ecc, pattern


def test_viterbi_corrects_noisy_soft_bits():
    rng = np.random.default_rng(1)
    raw_errors = decoded_errors = 0
    for _ in range(30):
        bits = rng.integers(0, 2, pattern.PAYLOAD_BITS)
        coded = ecc.encode(bits)
        assert coded.size == pattern.CODED_BITS
        soft = (2.0 * coded - 1) * 1.5 + rng.standard_normal(coded.size)
        raw_errors += np.sum((soft > 0) != coded)
        decoded_errors += np.sum(ecc.decode(soft) != bits)
    assert raw_errors > 100          # about 7 % of the coded bits are wrong ...
    assert decoded_errors <= 3       # ... and the decoder fixes nearly all of them


def test_payload_roundtrip():
    coded = pattern.pack_payload(b"k" * 32, 123456, 789)
    sid, epoch, tag = pattern.unpack_payload(ecc.decode(coded))
    assert (sid, epoch) == (123456, 789)
    assert tag == pattern.mac24(b"k" * 32, 123456, 789)
