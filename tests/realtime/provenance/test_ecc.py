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


def test_payload_roundtrip_encrypted_session_and_public_check():
    key = b"k" * 32
    bits = ecc.decode(pattern.pack_payload(key, 123456, 789))
    cipher, signature, tag = pattern.unpack_payload(bits)
    assert signature == 789 and cipher != 123456           # the session id is not in the clear
    assert pattern.readable(bits)
    assert pattern.open_payload(key, bits) == (123456, 789)
    assert pattern.open_payload(b"o" * 32, bits) is None
    flipped = bits.copy()
    flipped[5] ^= 1
    assert not pattern.readable(flipped)
    assert pattern.readable(pattern.ANONYMOUS_BITS)
