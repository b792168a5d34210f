-- bantin state, version 2: the HMAC key of the links in mails, for
-- instances that share one database and have no mail.token_secret_file
-- (every instance must sign and verify with the same key). One row, made
-- by the first instance that starts; the others read it.
CREATE TABLE token_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);
