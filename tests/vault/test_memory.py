from tokenhub.vault.memory import wipe


def test_wipe_zeroes_the_same_buffer():
    """wipe() overwrites the buffer in place: same object, same length, all zeros."""
    buffer = bytearray(b"\x01\x02key material")
    alias = buffer
    wipe(buffer)
    assert alias is buffer
    assert buffer == bytearray(len(b"\x01\x02key material"))
