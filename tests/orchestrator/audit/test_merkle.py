"""RFC 9162 Merkle trees: roots, inclusion proofs, and their verification."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest

from orchestrator.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    TreeBuilder,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion_proof,
    roots_at,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1 written as the RFC writes it, recursively."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:]))


def make_leaves(count: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(count)]


# The leaf data and roots of the certificate-transparency test vectors (RFC 6962, whose tree
# RFC 9162 keeps): an independent check that prefixes and split rule are right.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_is_the_hash_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == sha256(b"")
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_leaf_and_node_hashes_use_the_domain_prefixes() -> None:
    data, left, right = b"a" * 32, b"l" * 32, b"r" * 32
    assert leaf_hash(data) == sha256(b"\x00" + data)
    assert node_hash(left, right) == sha256(b"\x01" + left + right)
    assert leaf_hash(data) != sha256(data)


def test_roots_of_one_two_and_three_leaves_by_hand() -> None:
    a, b, c = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32
    la, lb, lc = (sha256(b"\x00" + leaf) for leaf in (a, b, c))
    assert root([a]) == la
    assert root([a, b]) == sha256(b"\x01" + la + lb)
    # Three leaves split at k = 2: the first two form a subtree, the third stands alone.
    assert root([a, b, c]) == sha256(b"\x01" + sha256(b"\x01" + la + lb) + lc)
    assert la.hex() == "e0bb82791bae3c50bd9c20fa4ccdcb8064a56e5c12bc69b07e6712ac9b4429e6"
    assert root([a, b]).hex() == "03938e2c8f758e6cae443d499b41c899c373eb0c0198bae61796a069f2b05904"
    assert root([a, b, c]).hex() == (
        "d73cea60f2ce124730a688b2456b84beb6fed822ab3e6d23c30c1ccdcbb5433b"
    )


@pytest.mark.parametrize("size", range(1, len(CT_LEAVES) + 1))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize("size", [*range(0, 70), 127, 128, 129, 1000, 1023, 1025, 4097])
def test_root_equals_the_recursive_definition(size: int) -> None:
    leaves = make_leaves(size, seed=size)
    assert root(leaves) == reference_mth(leaves)


def test_root_equals_the_recursive_definition_on_random_sizes() -> None:
    rng = random.Random(9162)
    for _ in range(25):
        leaves = make_leaves(rng.randint(1, 3000), seed=rng.randint(0, 10**6))
        assert root(leaves) == reference_mth(leaves)


def test_tree_builder_and_roots_at_agree_with_root_at_every_size() -> None:
    leaves = make_leaves(300)
    builder = TreeBuilder()
    assert builder.root() == EMPTY_ROOT
    for size, data in enumerate(leaves, 1):
        builder.append(data)
        assert builder.size == size
        assert builder.root() == root(leaves[:size])
    sizes = [0, 1, 7, 64, 65, 300, 301]
    found = roots_at(iter(leaves), sizes)
    assert found == {size: root(leaves[:size]) for size in sizes if size <= len(leaves)}


def test_every_proof_up_to_33_leaves_verifies() -> None:
    for size in range(1, 34):
        leaves = make_leaves(size, seed=size)
        expected = root(leaves)
        for index in range(size):
            proof = inclusion_proof(index, leaves)
            assert root_from_inclusion_proof(index, size, leaves[index], proof) == expected


def test_proof_of_the_third_of_three_leaves_by_hand() -> None:
    a, b, c = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    assert inclusion_proof(2, [a, b, c]) == [node_hash(leaf_hash(a), leaf_hash(b))]
    assert inclusion_proof(0, [a, b, c]) == [leaf_hash(b), leaf_hash(c)]
    assert inclusion_proof(0, [a]) == []


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def _fails(index: int, size: int, leaf: bytes, proof: list[bytes], expected: bytes) -> bool:
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) != expected
    except ProofError:
        return True


def test_tampered_leaf_path_or_index_fails_for_every_pair_up_to_33() -> None:
    for size in range(1, 34):
        leaves = make_leaves(size, seed=1000 + size)
        expected = root(leaves)
        for index in range(size):
            proof = inclusion_proof(index, leaves)
            assert _fails(index, size, _flip(leaves[index]), proof, expected)
            for position in range(len(proof)):
                changed = [*proof]
                changed[position] = _flip(changed[position])
                assert _fails(index, size, leaves[index], changed, expected)
            for other in range(size):
                if other != index:
                    assert _fails(other, size, leaves[index], proof, expected)


def test_a_proof_of_the_wrong_length_is_a_proof_error() -> None:
    leaves = make_leaves(10)
    proof = inclusion_proof(3, leaves)
    with pytest.raises(ProofError, match="too short"):
        root_from_inclusion_proof(3, 10, leaves[3], proof[:-1])
    with pytest.raises(ProofError, match="too long"):
        root_from_inclusion_proof(3, 10, leaves[3], [*proof, proof[0]])
    with pytest.raises(ProofError, match="too long"):
        root_from_inclusion_proof(0, 1, leaves[0], [leaves[1]])


def test_an_index_outside_the_tree_is_a_proof_error() -> None:
    leaves = make_leaves(4)
    with pytest.raises(ProofError, match="outside a tree of size 4"):
        root_from_inclusion_proof(4, 4, leaves[0], inclusion_proof(3, leaves))
    with pytest.raises(ProofError):
        root_from_inclusion_proof(-1, 4, leaves[0], [])
    with pytest.raises(ProofError):
        root_from_inclusion_proof(0, 0, leaves[0], [])
    with pytest.raises(ProofError):
        inclusion_proof(4, leaves)


def test_a_path_hash_of_the_wrong_size_is_a_proof_error() -> None:
    leaves = make_leaves(4)
    proof = inclusion_proof(1, leaves)
    with pytest.raises(ProofError, match="31 bytes"):
        root_from_inclusion_proof(1, 4, leaves[1], [proof[0][:31], proof[1]])


def test_a_million_leaves_take_seconds_not_minutes() -> None:
    leaves = [index.to_bytes(32, "big") for index in range(1_000_000)]
    assert len(root(leaves)) == 32
