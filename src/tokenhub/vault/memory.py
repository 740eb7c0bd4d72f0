"""Wiping key material, and what Python can and cannot promise about it.

What the vault guarantees: the data key (the one long-lived secret that opens every
stored credential) lives in exactly one ``bytearray`` while the vault is unlocked. Locking,
explicitly or after the idle timeout, overwrites that buffer with zeros in place and drops
the reference; the key-wrapping key derived from the password is wiped the same way as
soon as the data key is unwrapped. Secrets are decrypted on demand, so the vault itself
keeps no plaintext copy of any provider key.

What Python cannot guarantee:

* Copies made by libraries and the language. The password arrives as an immutable ``str``
  and is encoded to ``bytes``; argon2-cffi returns the derived key as ``bytes`` (we copy it
  into a wipeable buffer, but the original is freed without being zeroed); OpenSSL, under
  ``cryptography``, expands the key into its own cipher context (it cleanses that context
  when freed, which is outside our control). Every decrypted provider key is handed out as
  a ``str``, because the HTTP client needs one; strings cannot be overwritten.
* The allocator and the garbage collector. Freed objects are returned to pymalloc or the
  C allocator without being cleared, so their bytes may linger in the heap until reused.
* Swap, hibernation and core dumps. The operating system may write any page of the
  process to disk; tokenhub does not ``mlock`` its memory. Use encrypted swap and disable
  core dumps for the daemon (``LimitCORE=0`` under systemd, ``ulimit -c 0`` otherwise).
* A reader of live process memory (root, ``ptrace``, ``/proc/<pid>/mem``) sees the key
  while the vault is unlocked; no user-space program can prevent that.

So wiping narrows the window in which a memory snapshot reveals the key; it is defence in
depth. The guarantee that logs, the database file and backups reveal no provider key
without the admin password rests on the encryption, not on wiping.
"""

from __future__ import annotations


def wipe(buffer: bytearray) -> None:
    """Overwrite ``buffer`` with zeros in place (same length, so no reallocation)."""
    buffer[:] = bytes(len(buffer))
