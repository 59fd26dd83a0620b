package resolvers

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
)

// The staff API's queries (user, users, auditEvents). @hasRole (hasRoleDirective) has
// authorised the caller and put it in the context; the account methods check the role
// again.

func (r *queryResolver) staffUser(ctx context.Context, id string) (*model.User, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := r.Account.UserForStaff(ctx, p, id)
	if err != nil || u == nil {
		return nil, err
	}
	return userModel(*u), nil
}

func (r *queryResolver) users(ctx context.Context, filter *model.UserFilter, first *int, after *string) (*model.UserConnection, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	q := account.UsersQuery{First: first, After: after, Count: selected(ctx, "totalCount")}
	if filter != nil {
		q.Filter = store.UserFilter{EmailConfirmed: filter.EmailConfirmed, Disabled: filter.Disabled}
		if filter.Query != nil {
			q.Filter.Query = *filter.Query
		}
		if filter.Role != nil {
			role := store.Role(*filter.Role)
			q.Filter.Role = &role
		}
	}
	page, err := r.Account.Users(ctx, p, q)
	if err != nil {
		return nil, err
	}
	nodes := make([]model.User, len(page.Users))
	for i, u := range page.Users {
		nodes[i] = *userModel(u)
	}
	return &model.UserConnection{
		Nodes:      nodes,
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNextPage, EndCursor: optString(page.EndCursor)},
		TotalCount: page.TotalCount,
	}, nil
}

func (r *queryResolver) auditEvents(ctx context.Context, userID *string, first *int, after *string) (*model.AuditEventConnection, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	page, err := r.Account.AuditLog(ctx, p, account.AuditQuery{UserID: userID, First: first, After: after})
	if err != nil {
		return nil, err
	}
	nodes := make([]model.AuditEvent, len(page.Events))
	for i, e := range page.Events {
		nodes[i] = model.AuditEvent{
			ID: e.ID, At: e.At, Type: e.Type, Outcome: e.Outcome,
			UserID: optString(e.UserID), ActorID: optString(e.ActorID), IP: optString(e.IP),
			Detail: account.DecodeData(e.Detail),
		}
	}
	return &model.AuditEventConnection{
		Nodes:    nodes,
		PageInfo: &model.PageInfo{HasNextPage: page.HasNextPage, EndCursor: optString(page.EndCursor)},
	}, nil
}

// selected reports whether the field being resolved selects the subfield name (through
// fragments too), so that what costs is read only when asked for. Outside the executor it
// is true.
func selected(ctx context.Context, name string) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return true
	}
	return slices.Contains(graphql.CollectAllFields(ctx), name)
}
