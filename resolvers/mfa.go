package resolvers

import (
	"context"
	"encoding/json"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
)

// The second-factor and passkey operations (account/mfa.go, account/passkeys.go).

func factorModel(f store.Factor) model.Factor {
	return model.Factor{
		ID: f.ID, Type: model.FactorType(f.Type), Name: optString(f.Name),
		CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt, Confirmed: f.Confirmed,
	}
}

func enrolledModel(e account.MFAEnrolled) *model.MfaEnrolled {
	f := factorModel(e.Factor)
	return &model.MfaEnrolled{Factor: &f, RecoveryCodes: e.RecoveryCodes, Auth: authPayload(e.Tokens)}
}

// challengeModel turns a ceremony's options (JSON from the passkey package) into the JSON
// scalar's object.
func challengeModel(c account.WebAuthnChallenge) (*model.WebAuthnChallenge, error) {
	var options map[string]any
	if err := json.Unmarshal(c.Options, &options); err != nil {
		return nil, err
	}
	return &model.WebAuthnChallenge{ChallengeID: c.ID, Options: options}, nil
}

// credentialJSON turns a credential given as the JSON scalar back into its JSON text,
// nil when absent.
func credentialJSON(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

// withPrincipal runs f for the caller that @auth or @hasRole authorised.
func withPrincipal[T any](ctx context.Context, f func(p account.Principal) (T, error)) (T, error) {
	p, err := principal(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(p)
}

func (r *mutationResolver) verifyMfa(ctx context.Context, input model.MfaVerifyInput) (*model.AuthPayload, error) {
	cred, err := credentialJSON(input.WebauthnCredential)
	if err != nil {
		return nil, err
	}
	in := account.MFAVerifyInput{
		TotpCode: input.TotpCode, RecoveryCode: input.RecoveryCode,
		WebAuthnChallengeID: input.WebauthnChallengeID, WebAuthnCredential: cred,
	}
	return withPrincipal(ctx, func(p account.Principal) (*model.AuthPayload, error) {
		t, err := r.Account.VerifyMFA(ctx, p, in)
		if err != nil {
			return nil, err
		}
		return authPayload(t), nil
	})
}

func (r *mutationResolver) finishWebAuthnRegistration(ctx context.Context, challengeID string, credential map[string]any) (*model.MfaEnrolled, error) {
	cred, err := credentialJSON(credential)
	if err != nil {
		return nil, err
	}
	return withPrincipal(ctx, func(p account.Principal) (*model.MfaEnrolled, error) {
		e, err := r.Account.FinishWebAuthnRegistration(ctx, p, challengeID, cred)
		if err != nil {
			return nil, err
		}
		return enrolledModel(e), nil
	})
}

func (r *mutationResolver) finishPasskeyLogin(ctx context.Context, challengeID string, credential map[string]any) (*model.AuthPayload, error) {
	cred, err := credentialJSON(credential)
	if err != nil {
		return nil, err
	}
	t, err := r.Account.FinishPasskeyLogin(ctx, challengeID, cred)
	if err != nil {
		return nil, err
	}
	return authPayload(t), nil
}
