-- Guard gateway decision records (practice 7): one row per request, written after the answer.
-- `record` is the JSON decision (filters run, verdicts, categories, latency, content hashes);
-- content itself only when the gateway is configured to keep it. Rows older than the retention
-- period are deleted; the ledger keeps only governance acts (withdrawals, rollbacks, drills).
CREATE TABLE guard_decisions (
    id TEXT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    model TEXT NOT NULL,
    action TEXT NOT NULL,
    status INTEGER NOT NULL,
    record TEXT NOT NULL
);

CREATE INDEX guard_decisions_at ON guard_decisions (at);
