//! Full audit of a stored ledger: recompute every leaf and subtree from the entries' text and
//! check them against the stored tree and every signed checkpoint.
//!
//! The first bad index is the smallest position where the stored data stops matching what its
//! own entries and signed checkpoints imply: an edited, moved or missing entry, a rewritten tree
//! node, or entries removed after a checkpoint that counted them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use warden_core::canonical;

use crate::entry::Entry;
use std::collections::HashSet;

use crate::merkle::{Hash, MemoryTree, NodeId, leaf_hash};
use crate::note::{Checkpoint, NoteVerifier};
use crate::store::{LedgerStore, StoreError};

/// Entries read per query while auditing.
const PAGE: u64 = 50_000;
/// Problems listed in a report; the count and the first bad index cover all of them.
const MAX_LISTED: usize = 100;

/// The outcome of [`audit`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// True when nothing is wrong.
    pub ok: bool,
    /// Number of entries the store holds (one past the highest index).
    pub size: u64,
    /// Smallest index at which the ledger is damaged.
    pub first_bad_index: Option<u64>,
    /// Root recomputed from the entries.
    pub root: String,
    /// How many signed checkpoints were checked.
    pub checkpoints_checked: usize,
    /// How many problems were found in all.
    pub problem_count: usize,
    /// The first problems, by index.
    pub problems: Vec<Problem>,
}

/// One thing wrong with the stored ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry index it concerns, when it concerns one.
    pub index: Option<u64>,
    pub message: String,
}

#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    /// Lower bounds from checkpoints that no longer match: the damage is at or after them, but
    /// the rows themselves point more precisely when they can.
    bounds: Vec<u64>,
}

impl Findings {
    fn add(&mut self, index: Option<u64>, message: String) {
        self.problems.push(Problem { index, message });
    }

    fn add_bound(&mut self, at_or_after: u64, message: String) {
        self.bounds.push(at_or_after);
        self.problems.push(Problem {
            index: Some(at_or_after),
            message,
        });
    }
}

/// Audit everything `store` holds for the log `origin` signed by `verifier`.
pub async fn audit(
    store: &dyn LedgerStore,
    verifier: &NoteVerifier,
    origin: &str,
) -> Result<AuditReport, StoreError> {
    let size = store.size().await?;
    let mut findings = Findings::default();
    let mut leaves: Vec<Hash> = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut start = 0;
    while start < size {
        for (index, text) in store.entries(start, start + PAGE).await? {
            while (leaves.len() as u64) < index {
                findings.add(
                    Some(leaves.len() as u64),
                    format!("entry {} is missing (removed or renumbered)", leaves.len()),
                );
                leaves.push([0; 32]);
            }
            check_entry(index, &text, &mut findings);
            leaves.push(leaf_hash(text.as_bytes()));
        }
        start += PAGE;
    }
    let tree = MemoryTree::from_leaves(leaves);
    check_nodes(store, &tree, &mut findings).await?;
    let checkpoints = store.checkpoints().await?;
    let mut last_good = 0;
    for stored in &checkpoints {
        match Checkpoint::open(&stored.note, verifier, Some(origin)) {
            Err(error) => findings.add(None, format!("checkpoint at size {}: {error}", stored.size)),
            Ok(signed) if signed.size != stored.size || signed.root != stored.root => {
                findings.add(None, format!("checkpoint at size {}: stored size or root differs from the signed note", stored.size));
            }
            Ok(signed) if signed.size > size => findings.add(
                Some(size),
                format!("a signed checkpoint counts {} entries but only {size} are stored: entries from {size} on were removed", signed.size),
            ),
            Ok(signed) => match tree.root_at(signed.size) {
                Some(root) if root == signed.root => last_good = signed.size,
                _ => findings.add_bound(
                    last_good,
                    format!(
                        "entries before {} no longer hash to the root signed at that size; the change is at or after index {last_good}",
                        signed.size
                    ),
                ),
            },
        }
    }
    let Findings {
        mut problems,
        bounds,
    } = findings;
    let precise = problems
        .iter()
        .filter_map(|problem| problem.index)
        .filter(|index| !bounds.contains(index))
        .min();
    let first_bad_index = precise.or_else(|| bounds.iter().copied().min());
    problems.sort_by_key(|problem| problem.index.unwrap_or(u64::MAX));
    let problem_count = problems.len();
    problems.truncate(MAX_LISTED);
    Ok(AuditReport {
        ok: problem_count == 0,
        size,
        first_bad_index,
        root: BASE64.encode(tree.root_at(tree.size()).unwrap_or_default()),
        checkpoints_checked: checkpoints.len(),
        problem_count,
        problems,
    })
}

fn check_entry(index: u64, text: &str, findings: &mut Findings) {
    match Entry::parse(text) {
        Err(error) => findings.add(
            Some(index),
            format!("entry {index} is not a valid ledger entry: {error}"),
        ),
        Ok(entry) if entry.index != index => findings.add(
            Some(index),
            format!(
                "entry stored at {index} says it is entry {} (rows were moved)",
                entry.index
            ),
        ),
        Ok(_) if !canonical::is_canonical(text) => {
            findings.add(
                Some(index),
                format!("entry {index} is not in canonical form (it was edited)"),
            );
        }
        Ok(_) => {}
    }
}

async fn check_nodes(
    store: &dyn LedgerStore,
    tree: &MemoryTree,
    findings: &mut Findings,
) -> Result<(), StoreError> {
    let stored = store.all_nodes().await?;
    let mut differing: HashSet<NodeId> = HashSet::new();
    let mut expected = tree.nodes().peekable();
    let mut stored = stored.into_iter().peekable();
    loop {
        match (expected.peek().copied(), stored.peek().copied()) {
            (None, None) => break,
            (Some((id, hash)), Some((stored_id, stored_hash))) if id == stored_id => {
                if hash != stored_hash {
                    differing.insert(id);
                }
                expected.next();
                stored.next();
            }
            (Some((id, _)), other) if other.is_none_or(|(stored_id, _)| id < stored_id) => {
                findings.add(
                    Some(id.first_leaf()),
                    format!("tree node level {} index {} is missing", id.level, id.index),
                );
                expected.next();
            }
            (_, Some((stored_id, _))) => {
                findings.add(
                    Some(stored_id.first_leaf().max(tree.size())),
                    format!(
                        "tree node level {} index {} has no entries under it (entries removed)",
                        stored_id.level, stored_id.index
                    ),
                );
                stored.next();
            }
            (Some(_), None) => {
                expected.next();
            }
        }
    }
    // A changed leaf changes every ancestor; report only the lowest differing nodes, which
    // locate the damage most precisely.
    let mut lowest: Vec<NodeId> = differing
        .iter()
        .copied()
        .filter(|id| {
            id.level == 0
                || [2 * id.index, 2 * id.index + 1].iter().all(|&child| {
                    !differing.contains(&NodeId {
                        level: id.level - 1,
                        index: child,
                    })
                })
        })
        .collect();
    lowest.sort();
    for id in lowest {
        let message = if id.level == 0 {
            format!(
                "entry {} does not match its stored leaf hash (the entry was edited)",
                id.index
            )
        } else {
            format!(
                "entries {}..{} do not match the stored tree (level {} node {} differs: an entry and its leaf hash were rewritten)",
                id.first_leaf(),
                (id.index + 1) << id.level,
                id.level,
                id.index
            )
        };
        findings.add(Some(id.first_leaf()), message);
    }
    Ok(())
}
