package resolvers

import (
	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
)

func userModel(u store.User) *model.User {
	return &model.User{
		ID: u.ID, Email: u.Email, EmailConfirmed: u.EmailConfirmed, PendingEmail: u.PendingEmail,
		Role: model.Role(u.Role), Name: u.Name, Surname: u.Surname, Pseudo: u.Pseudo,
		Lang: u.Lang, Agreement: u.Agreement, Data: account.DecodeData(u.Data), Disabled: u.Disabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt, LoginCount: u.LoginCount,
		MfaEnabled: u.MFAEnabled,
	}
}

func authPayload(t account.Tokens) *model.AuthPayload {
	return &model.AuthPayload{
		AccessToken: t.AccessToken, TokenType: "Bearer",
		ExpiresIn: t.AccessExpiresIn, ExpiresAt: t.AccessExpiresAt,
		RefreshToken: t.RefreshToken, RefreshExpiresAt: t.RefreshExpiresAt,
		User: userModel(t.User), Aal: t.AAL, MfaRequired: t.MFARequired,
	}
}

func sessionModel(s store.Session, current string) model.Session {
	exp := s.IdleExpiresAt
	if s.AbsoluteExpiresAt.Before(exp) {
		exp = s.AbsoluteExpiresAt
	}
	m := model.Session{ID: s.ID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: exp, Current: s.ID == current}
	if s.UserAgent != "" {
		m.UserAgent = &s.UserAgent
	}
	if s.IP != "" {
		m.IP = &s.IP
	}
	return m
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
