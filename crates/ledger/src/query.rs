//! Reading the ledger by kind and subject, across as many pages as it takes. Entries carry no
//! separate columns for these, so matching happens on decoded entries, page by page
//! ([`crate::log::MAX_PAGE`] at a time), never holding more than one page plus the answer.
//! [`walk`] is the one paging loop; [`find`] (listings) and [`Ledger::scan`] (folds) use it.

use std::ops::ControlFlow;

use crate::entry::Entry;
use crate::log::{Ledger, LedgerError, MAX_PAGE};

/// Which entries to return; an empty filter matches every entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// An exact kind, or a prefix ending in `.` (`gate.` matches `gate.decision`, `gate.pause`, …).
    pub kind: Option<String>,
    /// An exact subject.
    pub subject: Option<String>,
}

impl EntryFilter {
    /// Whether `entry` passes the filter.
    pub fn matches(&self, entry: &Entry) -> bool {
        let kind_ok = self.kind.as_deref().is_none_or(|kind| {
            if kind.ends_with('.') {
                entry.kind.starts_with(kind)
            } else {
                entry.kind == kind
            }
        });
        kind_ok && self.subject.as_deref().is_none_or(|s| entry.subject == s)
    }
}

/// Matching entries and where to continue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub entries: Vec<Entry>,
    /// The index to start the next read at when `limit` stopped the reading; `None` when the end
    /// of the ledger was reached.
    pub next: Option<u64>,
}

/// Hand every entry from index `start` (below `end`, when given) to `visit`, in index order, page
/// by page, until `visit` breaks or the entries run out. Returns where to resume: the index of the
/// entry `visit` broke on, else the index after the last entry read (`start` when none was).
pub async fn walk(
    ledger: &Ledger,
    start: u64,
    end: Option<u64>,
    mut visit: impl FnMut(Entry) -> ControlFlow<()>,
) -> Result<(u64, ControlFlow<()>), LedgerError> {
    let mut at = start;
    while end.is_none_or(|end| at < end) {
        let limit = end.map_or(MAX_PAGE, |end| (end - at).min(MAX_PAGE));
        let page = ledger.entries(at, limit).await?;
        if page.is_empty() {
            break;
        }
        for entry in page {
            let index = entry.index;
            if visit(entry).is_break() {
                return Ok((index, ControlFlow::Break(())));
            }
            at = index.saturating_add(1);
        }
    }
    Ok((at, ControlFlow::Continue(())))
}

/// Up to `limit` entries from index `start` that pass `filter`, in index order, reading as many
/// pages as needed (so a limit above [`MAX_PAGE`] is honoured).
pub async fn find(
    ledger: &Ledger,
    filter: &EntryFilter,
    start: u64,
    limit: u64,
) -> Result<Found, LedgerError> {
    let mut entries = Vec::new();
    let (at, flow) = walk(ledger, start, None, |entry| {
        if entries.len() as u64 == limit {
            return ControlFlow::Break(());
        }
        if filter.matches(&entry) {
            entries.push(entry);
        }
        ControlFlow::Continue(())
    })
    .await?;
    Ok(Found {
        entries,
        next: flow.is_break().then_some(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryDraft;
    use crate::note::NoteSigner;
    use warden_store::testing::{Backend, fresh_database};

    fn entry(kind: &str, subject: &str) -> Entry {
        Entry {
            index: 0,
            kind: kind.into(),
            actor: "a".into(),
            time: "t".into(),
            subject: subject.into(),
            payload: serde_json::json!({}),
        }
    }

    #[test]
    fn kinds_match_exactly_or_by_dotted_prefix() {
        let gate = EntryFilter {
            kind: Some("gate.".into()),
            subject: None,
        };
        assert!(gate.matches(&entry("gate.decision", "m")));
        assert!(!gate.matches(&entry("gatekeeper", "m")));
        let exact = EntryFilter {
            kind: Some("gate".into()),
            subject: Some("m".into()),
        };
        assert!(!exact.matches(&entry("gate.decision", "m")));
        assert!(exact.matches(&entry("gate", "m")));
        assert!(!exact.matches(&entry("gate", "n")));
        assert!(EntryFilter::default().matches(&entry("x", "y")));
    }

    #[tokio::test]
    async fn issue_10_find_reads_past_one_page() {
        let db = fresh_database(Backend::Sqlite).await.unwrap();
        let signer = NoteSigner::generate("warden.test/query").unwrap();
        let ledger = Ledger::new(
            crate::store::open(&db.connect(&[&crate::store::MIGRATIONS]).await.unwrap()),
            signer,
            "warden.test/query".into(),
        );
        let drafts: Vec<EntryDraft> = (0..2500)
            .map(|n| {
                let kind = if n % 2 == 0 { "note.even" } else { "note.odd" };
                EntryDraft::now(
                    kind,
                    "local:test",
                    format!("s{}", n % 5),
                    serde_json::json!({}),
                )
            })
            .collect();
        ledger.append_batch(&drafts).await.unwrap();
        let all = find(&ledger, &EntryFilter::default(), 0, 5000)
            .await
            .unwrap();
        assert_eq!(all.entries.len(), 2500);
        assert_eq!(all.next, None);
        let odd = EntryFilter {
            kind: Some("note.odd".into()),
            subject: None,
        };
        let page = find(&ledger, &odd, 0, 1100).await.unwrap();
        assert_eq!(page.entries.len(), 1100);
        assert!(page.entries.iter().all(|e| e.kind == "note.odd"));
        let rest = find(&ledger, &odd, page.next.unwrap(), 5000).await.unwrap();
        assert_eq!(rest.entries.len(), 150);
        assert_eq!(rest.entries[0].index, page.entries[1099].index + 2);
        let one = EntryFilter {
            kind: Some("note.".into()),
            subject: Some("s3".into()),
        };
        assert_eq!(
            find(&ledger, &one, 0, 5000).await.unwrap().entries.len(),
            500
        );
        // Nothing beyond the end, even at the last representable index.
        let none = find(&ledger, &EntryFilter::default(), u64::MAX, 10)
            .await
            .unwrap();
        assert!(none.entries.is_empty());
    }
}
