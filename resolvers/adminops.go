package resolvers

import (
	"context"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
)

// The admin mutations (updateUser, deleteUser, revokeUserSessions, sendPasswordReset).
// @hasRole(role: ADMIN) has authorised the caller; the account methods check the role
// again.

func (r *mutationResolver) updateUser(ctx context.Context, id string, input model.AdminUpdateUserInput) (*model.User, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	in := account.AdminUserInput{
		EmailConfirmed: input.EmailConfirmed,
		Disabled:       input.Disabled,
		// The profile fields as updateProfile reads them: left out keeps, null clears.
		Profile: profileInput(ctx, model.UpdateProfileInput{
			Name: input.Name, Surname: input.Surname, Pseudo: input.Pseudo, Lang: input.Lang,
		}),
	}
	if input.Role != nil {
		role := store.Role(*input.Role)
		in.Role = &role
	}
	u, err := r.Account.AdminUpdateUser(ctx, p, id, in)
	if err != nil {
		return nil, err
	}
	return userModel(u), nil
}

// adminAction runs one of the admin mutations that answer true.
func adminAction(ctx context.Context, act func(context.Context, account.Principal, string) error, id string) (bool, error) {
	p, err := principal(ctx)
	if err != nil {
		return false, err
	}
	if err := act(ctx, p, id); err != nil {
		return false, err
	}
	return true, nil
}
