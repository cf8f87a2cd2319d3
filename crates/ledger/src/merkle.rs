//! RFC 6962 / RFC 9162 Merkle tree arithmetic: hashing, subtree decomposition, proof shapes and
//! proof verification.
//!
//! Everything here is pure. The store keeps the hash of every *perfect* subtree (a node covering
//! `2^level` leaves starting at a multiple of `2^level`); any range the RFC's `MTH` ever asks for
//! is a left-to-right run of such subtrees, so proofs and roots need only O(log n) stored hashes.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `MTH({})`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// Interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A perfect subtree: the `index`-th run of `2^level` leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves; leaves are level 0.
    pub level: u8,
    /// Position among the subtrees of this height.
    pub index: u64,
}

impl NodeId {
    /// The first leaf this subtree covers.
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }
}

/// The perfect subtrees, left to right, whose fold is `MTH(D[start:end])`.
///
/// `start` must be a multiple of a power of two at least as large as the range, which holds for
/// every range an RFC 6962 proof or root refers to.
pub fn decompose(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut cursor = start;
    while cursor < end {
        let remaining = end - cursor;
        let level = 63 - remaining.leading_zeros() as u8;
        nodes.push(NodeId {
            level,
            index: cursor >> level,
        });
        cursor += 1 << level;
    }
    nodes
}

/// Fold the hashes of a [`decompose`]d range, right to left, into its `MTH`.
pub fn fold(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |right, left| node_hash(left, &right))
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size` leaves,
/// in proof order (leaf side first). RFC 9162 §2.1.3.1.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    let mut target = index;
    // Walk down from the root; the proof lists the siblings bottom-up, so reverse at the end.
    while end - start > 1 {
        let k = split_point(end - start);
        if target < k {
            ranges.push((start + k, end));
            end = start + k;
        } else {
            ranges.push((start, start + k));
            start += k;
            target -= k;
        }
    }
    ranges.reverse();
    ranges
}

/// The ranges whose hashes form the consistency proof from `old` to `new` leaves, in proof
/// order. RFC 9162 §2.1.4.1. Empty when `old` is 0 or equals `new`.
pub fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    if old == 0 || old >= new {
        return Vec::new();
    }
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, new);
    let mut m = old;
    let mut whole_old_tree = true;
    while m != end - start {
        let k = split_point(end - start);
        if m <= k {
            ranges.push((start + k, end));
            end = start + k;
        } else {
            ranges.push((start, start + k));
            start += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        ranges.push((start, end));
    }
    ranges.reverse();
    ranges
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    /// The recomputed root differs from the claimed one.
    #[error("the recomputed root does not match the checkpoint's root")]
    RootMismatch,
    /// The old size is larger than the new one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesReversed { old: u64, new: u64 },
}

/// RFC 9162 §2.1.3.2: check that `leaf` sits at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: check that the tree of `old` leaves with `old_root` is a prefix of the
/// tree of `new` leaves with `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old == 0 {
        // Every tree extends the empty tree.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(*old_root);
    }
    hashes.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if &f_r != old_root || &s_r != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a tree: the perfect subtrees of `decompose(0, size)` with their hashes.
/// Appending a leaf completes zero or more new perfect subtrees.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    stack: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// Rebuild from the hashes of `decompose(0, size)`, left to right. `None` when the hash count
    /// does not match the size.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        let ids = decompose(0, size);
        if ids.len() != hashes.len() {
            return None;
        }
        Some(Self {
            size,
            stack: ids.into_iter().zip(hashes).collect(),
        })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the tree so far.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.stack.iter().map(|(_, hash)| *hash).collect();
        fold(&hashes)
    }

    /// Append one leaf hash; `completed` receives every perfect subtree it finishes, the leaf
    /// itself first.
    pub fn push(&mut self, leaf: Hash, completed: &mut Vec<(NodeId, Hash)>) {
        let id = NodeId {
            level: 0,
            index: self.size,
        };
        self.size += 1;
        completed.push((id, leaf));
        self.stack.push((id, leaf));
        while self.stack.len() >= 2 {
            let (right_id, right) = self.stack[self.stack.len() - 1];
            let (left_id, left) = self.stack[self.stack.len() - 2];
            if left_id.level != right_id.level {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let parent = (
                NodeId {
                    level: left_id.level + 1,
                    index: left_id.index / 2,
                },
                node_hash(&left, &right),
            );
            completed.push(parent);
            self.stack.push(parent);
        }
    }
}

/// Every perfect subtree of a tree held in memory, level by level. Used to recompute a stored
/// tree from its entries, and as a proof source for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// Build from leaf hashes.
    pub fn from_leaves(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while let Some(below) = levels.last() {
            if below.len() < 2 {
                break;
            }
            let above: Vec<Hash> = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        Self { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// The hash of a perfect subtree, if the tree has it.
    pub fn node(&self, id: NodeId) -> Option<Hash> {
        self.levels
            .get(id.level as usize)?
            .get(usize::try_from(id.index).ok()?)
            .copied()
    }

    /// `MTH(D[start:end])`.
    pub fn range_hash(&self, start: u64, end: u64) -> Option<Hash> {
        let hashes: Option<Vec<Hash>> = decompose(start, end)
            .into_iter()
            .map(|id| self.node(id))
            .collect();
        hashes.map(|hashes| fold(&hashes))
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        self.range_hash(0, size)
    }

    /// Every perfect subtree with its hash, leaves first.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, Hash)> + '_ {
        self.levels.iter().enumerate().flat_map(|(level, hashes)| {
            hashes.iter().enumerate().map(move |(index, hash)| {
                (
                    NodeId {
                        level: level as u8,
                        index: index as u64,
                    },
                    *hash,
                )
            })
        })
    }

    /// Inclusion proof hashes for leaf `index` in the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        inclusion_ranges(index, size)
            .into_iter()
            .map(|(s, e)| self.range_hash(s, e))
            .collect()
    }

    /// Consistency proof hashes between the first `old` and the first `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Option<Vec<Hash>> {
        consistency_ranges(old, new)
            .into_iter()
            .map(|(s, e)| self.range_hash(s, e))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 §2.1's recursive definition, written out literally as the reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            warden_core::hex::encode(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn frontier_and_memory_tree_agree_with_the_rfc_definition() {
        let all = leaves(70);
        let tree = MemoryTree::from_leaves(all.clone());
        let mut frontier = Frontier::default();
        let mut completed = Vec::new();
        for (n, leaf) in all.iter().enumerate() {
            frontier.push(*leaf, &mut completed);
            let expected = reference_root(&all[..=n]);
            assert_eq!(frontier.root(), expected, "size {}", n + 1);
            assert_eq!(tree.root_at(n as u64 + 1), Some(expected));
        }
        let from_memory: Vec<(NodeId, Hash)> = tree.nodes().collect();
        let mut sorted = completed.clone();
        sorted.sort();
        let mut expected = from_memory.clone();
        expected.sort();
        assert_eq!(
            sorted, expected,
            "the frontier must emit every perfect subtree once"
        );
    }

    #[test]
    fn frontier_rebuilds_from_stored_parts() {
        let all = leaves(13);
        let tree = MemoryTree::from_leaves(all.clone());
        let hashes = decompose(0, 13)
            .into_iter()
            .map(|id| tree.node(id).unwrap())
            .collect();
        let mut frontier = Frontier::from_parts(13, hashes).unwrap();
        assert_eq!(frontier.root(), reference_root(&all));
        frontier.push(leaf_hash(b"next"), &mut Vec::new());
        let mut grown = all.clone();
        grown.push(leaf_hash(b"next"));
        assert_eq!(frontier.root(), reference_root(&grown));
        assert!(Frontier::from_parts(13, vec![]).is_none());
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_leaf_does_not() {
        let all = leaves(33);
        let tree = MemoryTree::from_leaves(all.clone());
        for size in 1..=33 {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                verify_inclusion(index, size, &all[index as usize], &proof, &root).unwrap();
                let other = all[((index + 1) % 33) as usize];
                if size > 1 {
                    assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                }
            }
            assert_eq!(
                verify_inclusion(size, size, &all[0], &[], &root),
                Err(ProofError::IndexOutOfRange { index: size, size })
            );
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_history_does_not() {
        let all = leaves(33);
        let tree = MemoryTree::from_leaves(all.clone());
        let mut forged = all.clone();
        forged[2] = leaf_hash(b"rewritten");
        let forged_tree = MemoryTree::from_leaves(forged);
        for new in 1..=33 {
            for old in 0..=new {
                let proof = tree.consistency_proof(old, new).unwrap();
                let old_root = tree.root_at(old).unwrap();
                let new_root = tree.root_at(new).unwrap();
                verify_consistency(old, new, &old_root, &new_root, &proof)
                    .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
                if old > 2 && old < new {
                    let forged_proof = forged_tree.consistency_proof(old, new).unwrap();
                    let forged_new = forged_tree.root_at(new).unwrap();
                    assert!(
                        verify_consistency(old, new, &old_root, &forged_new, &forged_proof)
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn proof_lengths_are_logarithmic() {
        assert_eq!(inclusion_ranges(0, 1_000_000).len(), 20);
        assert!(consistency_ranges(999_999, 1_000_000).len() <= 2 * 20);
        assert_eq!(
            decompose(0, 1_000_000).len(),
            1_000_000_u64.count_ones() as usize
        );
    }
}
