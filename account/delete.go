package account

import (
	"context"
	"errors"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// DeleteAccount deletes the signed-in user's account after checking its current password
// (encrypted with --salt; undecryptable or wrong is INVALID_CREDENTIALS, and a wrong one
// counts toward the login limiter, as for changePassword).
//
// The steps, in this order, so that a crash between any two leaves no usable account:
//  1. store.BeginUserDeletion, one atomic write: the account is gone at once (login
//     answers as for an unknown address, its sessions and refresh tokens are refused, its
//     links find no account) and its address is free to register again;
//  2. the "account_deleted" audit event (the user's id is kept in its events, which stay);
//  3. store.FinishUserDeletion removes its sessions, link tokens and queued mails, then
//     the deletion record. A failure here is logged, not returned: the account is
//     already deleted, and the periodic purge (store.FinishDeletions) finishes the rest;
//  4. the "account deleted" notice is queued to the address. It is queued after the
//     deletion began, so no finish removes it (only mails queued before are removed).
func (s *Service) DeleteAccount(ctx context.Context, p Principal, currentPassword string) error {
	cur, err := s.decryptField("currentPassword", currentPassword)
	if err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, p.User, cur); err != nil {
		return err
	}
	d, err := s.store.BeginUserDeletion(ctx, p.User.ID, s.now())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Deleted meanwhile, by a concurrent request.
			return ErrUnauthenticated.with(err)
		}
		return err
	}
	s.audit(ctx, "account_deleted", "success", p.User.ID, nil)
	// The client may hang up now: the deletion it began is finished either way, within a
	// bound of its own.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if n, err := s.store.FinishUserDeletion(bg, d.UserID, s.now()); err != nil {
		s.log.WarnContext(ctx, "account deletion not finished: the purge will finish it", "user", d.UserID, "err", err)
	} else {
		s.log.InfoContext(ctx, "account deleted", "user", d.UserID, "records", n)
	}
	if err := s.queueMail(bg, mailer.KindAccountDeleted, d.Email, p.User, mailer.Data{Email: d.Email}); err != nil {
		s.log.ErrorContext(ctx, "account-deleted notice not queued", "user", d.UserID, "err", err)
	}
	return nil
}
