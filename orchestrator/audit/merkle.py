"""RFC 9162 (section 2.1) Merkle trees over the audit log's entry hashes.

Leaves are leaf *data* (the 32 raw bytes of an entry hash); the 0x00 / 0x01 prefixes keep a
leaf from ever being passed off as an interior node. Everything is iterative, so a log of
millions of entries needs neither deep recursion nor more than one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of a tree with no leaves."""

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """An inclusion proof that cannot be checked at all (bad index or path length)."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2): where RFC 9162 splits."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(leaves), level by level.

    Pairing neighbours and carrying a lone last node up unchanged builds exactly the tree of
    RFC 9162's split rule, with two hash calls per leaf and no recursion."""
    if not leaves:
        return EMPTY_ROOT
    level = [_sha256(b"\x00" + data).digest() for data in leaves]
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, leaves) of RFC 9162 2.1.3.1, siblings ordered from the leaf up."""
    size = len(leaves)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + split_point(end - start)
        if index < middle:
            path.append(root(leaves[middle:end]))
            end = middle
        else:
            path.append(root(leaves[start:middle]))
            start = middle
    path.reverse()
    return path


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from leaf data ``leaf`` (RFC 9162 2.1.3.2).

    The caller compares it with a signed root; a proof that cannot even be followed raises
    ProofError, so a wrong path length never passes as a mere mismatch."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn = index, size - 1
    result = leaf_hash(leaf)
    for step in proof:
        if len(step) != HASH_SIZE:
            raise ProofError(f"a proof hash has {len(step)} bytes, not {HASH_SIZE}")
        if sn == 0:
            raise ProofError(f"the proof is too long for leaf {index} of a tree of size {size}")
        if fn & 1 or fn == sn:
            result = node_hash(step, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, step)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the proof is too short for leaf {index} of a tree of size {size}")
    return result


class TreeBuilder:
    """A tree grown one leaf at a time whose root can be read at any size.

    Keeps the roots of the perfect subtrees the leaves so far fall into (largest first); the
    root is their right fold, which is MTH by the split rule. One pass over a log therefore
    yields the root at every checkpoint size."""

    def __init__(self) -> None:
        self.size = 0
        self._subtrees: list[bytes] = []

    def append(self, data: bytes) -> None:
        """Add the next leaf (leaf data, not its hash)."""
        node = _sha256(b"\x00" + data).digest()
        self.size += 1
        carry = self.size
        while not carry & 1:
            node = _sha256(b"\x01" + self._subtrees.pop() + node).digest()
            carry >>= 1
        self._subtrees.append(node)

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self._subtrees:
            return EMPTY_ROOT
        result = self._subtrees[-1]
        for left in reversed(self._subtrees[:-1]):
            result = node_hash(left, result)
        return result


def roots_at(leaves: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """MTH(leaves[:size]) for each size, in one pass; sizes beyond the leaves are left out."""
    wanted = sorted(set(sizes))
    found: dict[int, bytes] = {}
    builder = TreeBuilder()
    if wanted and wanted[0] == 0:
        found[0] = EMPTY_ROOT
    position = 0
    remaining = [size for size in wanted if size > 0]
    for data in leaves:
        if position >= len(remaining):
            break
        builder.append(data)
        while position < len(remaining) and remaining[position] == builder.size:
            found[builder.size] = builder.root()
            position += 1
    return found
