-- Evaluation runs (practice 1). Unlike the ledger these rows change: a run moves from `running`
-- to `finished` or `failed`. The ledger entry written when a run finishes is what cannot change.
CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY NOT NULL,
    suite TEXT NOT NULL,
    target TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    finished_at TEXT,
    config TEXT NOT NULL,
    summary TEXT
);

-- The journal and response cache: one row per finished upstream call, keyed by the SHA-256 of
-- (target, request, sampling parameters, epoch). Written as each answer arrives, so a killed run
-- resumes without repeating any answered request.
CREATE TABLE eval_responses (
    key TEXT PRIMARY KEY NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Scored samples of finished runs.
CREATE TABLE eval_samples (
    run_id TEXT NOT NULL REFERENCES eval_runs (id),
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
