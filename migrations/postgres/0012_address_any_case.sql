-- bantin state, version 12: one subscriber per address whatever its case.
-- Mailboxes ignore the case of an address (Gmail, Outlook, Yahoo, postfix's
-- virtual maps and every list manager), but the addresses were unique only
-- as written: a sign-up of `An@example.vn` beside `an@example.vn` made a
-- second subscriber, confirmed from the same inbox, and every digest came
-- twice. The address is still kept and mailed as its subscriber wrote it.
--
-- Rows that this rule now makes one are merged into the row a mailbox would
-- want kept: a complaint or a hard bounce first (the person said stop), then
-- an active subscription (the digest they get now, once), then bouncing,
-- pending, unsubscribed; the oldest among equals. The others' bookkeeping
-- goes with them; their sent messages stay, as for a removed subscriber.
DELETE FROM subscribers WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY LOWER(email)
            ORDER BY CASE status
                WHEN 'complained' THEN 0 WHEN 'suppressed' THEN 1 WHEN 'active' THEN 2
                WHEN 'bouncing' THEN 3 WHEN 'pending' THEN 4 ELSE 5 END, id
        ) AS place
        FROM subscribers
    ) AS ranked
    WHERE place > 1
);

CREATE UNIQUE INDEX subscribers_email_any_case ON subscribers (LOWER(email));
