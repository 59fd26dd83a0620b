// Package mailer turns TokTok's account events into mails and gets them delivered.
//
// It exists so that everything about mail lives behind one small surface that the account
// logic can trust: what a mail says (templates embedded in the binary, in English and
// French, with every user value escaped in HTML), that nothing a user typed can become a
// mail header (CleanHeader, ValidateAddress), how a mail leaves the process (an SMTP sender
// on github.com/wneessen/go-mail, or a log sender for the `default` mode), and the durable
// outbox worker that sends what the store has queued, retries with backoff, and never lets
// two instances send the same mail at the same time.
//
// # Flow
//
// The operation that needs a mail (register, forgotPassword, changeEmail, ...) queues it
// with Queue.Send, in the same operation: one call renders it with Renderer.Render, turns
// it into a store.Mail with NewMail (which refuses unsafe headers and invalid addresses),
// seals its body with the Sealer (the link token never rests in the store in clear) and
// writes it to the outbox. The Worker claims pending mails with a lease, opens them, hands
// them to a Sender and records the outcome. A crash between claim and record only delays the mail until the lease expires;
// a crash between delivery and record can deliver it twice, with the same Message-ID so
// that receivers may de-duplicate (delivery is at-least-once, never concurrent).
//
// # Templates
//
// Templates live in templates/<lang>/<kind>.<part>, one file per part:
//
//	<kind>.subject.txt   text/template, rendered on one line (surrounding space trimmed)
//	<kind>.txt           text/template, the plain-text part
//	<kind>.html          html/template, the HTML part (contextual escaping, href included)
//
// Kinds: confirm, reset, email_change, email_change_notice, password_changed,
// account_deleted, signup_attempt. Languages: en (the fallback) and fr. An override directory with the
// same layout (overrideDir/fr/reset.txt, ...) replaces embedded templates file by file; a
// file naming an unknown language, kind or part is an error, so a typo does not silently
// leave the embedded template in place.
// Every template is parsed, then executed once with sample data, when the Renderer is
// built, so a broken override stops the service at start-up and never at send time.
//
// Templates see the fields of Data (AppName, Link, Email, NewEmail, Name, ExpiresIn, Lang)
// and two derived ones: Expires, ExpiresIn as words in the mail's language ("24 hours",
// "1 heure"), empty when ExpiresIn is zero; and MaskedNewEmail, NewEmail with most of it
// hidden ("j***@e***.com"), for the notice sent to the old address.
package mailer
