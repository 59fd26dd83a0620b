-- 0003: MailsTo lists a recipient's mails, oldest first, without scanning the outbox.
CREATE INDEX mails_rcpt ON mails (rcpt, created_at, id);
