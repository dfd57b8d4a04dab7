-- Where each customer logs in from, for the risk check: the countries of their successful
-- logins (a login from another country steps up), and the place of the last one (a login
-- too far away too soon after it is impossible travel). Written with the login's other
-- remembered environment (Store::remember_login_environment), in one transaction.
CREATE TABLE known_countries (
    account_id TEXT NOT NULL REFERENCES customers (account_id),
    country    TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (account_id, country)
);

CREATE TABLE last_login_places (
    account_id  TEXT PRIMARY KEY REFERENCES customers (account_id),
    at          INTEGER NOT NULL,
    latitude    REAL NOT NULL,
    longitude   REAL NOT NULL,
    accuracy_km REAL NOT NULL
);
