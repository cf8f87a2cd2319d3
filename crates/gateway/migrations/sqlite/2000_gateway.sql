-- Guard gateway decision records (practice 7): one row per request, written after the answer.
-- `record` is the JSON decision (filters run, verdicts, categories, latency, content hashes);
-- content itself only when the gateway is configured to keep it. Rows older than the retention
-- period are deleted; the ledger keeps only governance acts (withdrawals, rollbacks, drills).
CREATE TABLE guard_decisions (
    id TEXT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    model TEXT NOT NULL,
    -- The end user's pseudonym (HMAC under the home's key), when the request named one.
    user_ref TEXT,
    action TEXT NOT NULL,
    status INTEGER NOT NULL,
    record TEXT NOT NULL
);

CREATE INDEX guard_decisions_at ON guard_decisions (at);

-- An end user's points for abuse escalation are read from their recent decisions.
CREATE INDEX guard_decisions_user ON guard_decisions (user_ref, at);

-- Appeal texts, which are personal data and so stay out of the ledger (its entries carry the
-- appeal's id and the text's SHA-256). Deleted with the user's other records.
CREATE TABLE guard_appeals (
    id TEXT PRIMARY KEY NOT NULL,
    user_ref TEXT NOT NULL,
    filed_at TEXT NOT NULL,
    message TEXT NOT NULL
);

-- The review queue: a sample of blocked, flagged and passed requests with their text, which
-- reviewers label `harmful` or `benign`; the labels give each filter a measured false-positive
-- and false-negative rate, and training data for `warden guard train`.
CREATE TABLE guard_reviews (
    decision_id TEXT PRIMARY KEY NOT NULL,
    sampled_at TEXT NOT NULL,
    stratum TEXT NOT NULL,
    filters TEXT NOT NULL,
    content TEXT NOT NULL,
    label TEXT,
    reviewer TEXT,
    labelled_at TEXT
);
