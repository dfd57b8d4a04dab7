-- One row that the readiness check rewrites: a real write (and, with synchronous=FULL, a real
-- sync), so a full disk or a read-only database shows as "not ready".
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
