// Package resolvers is the thin GraphQL layer: it reads arguments and the caller from the
// context, calls one account method, and maps results to the schema's models. Errors are
// mapped to the contract's codes in one place, the error presenter.
package resolvers

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
)

// Resolver is the root resolver; its fields are the services built in server.go.
type Resolver struct {
	Account *account.Service
	Log     *slog.Logger
}

// Config returns the executable schema's configuration: resolvers and directives.
func (r *Resolver) Config() graph.Config {
	return graph.Config{
		Resolvers:  r,
		Directives: graph.DirectiveRoot{Auth: r.authDirective, HasRole: r.hasRoleDirective},
	}
}

// authDirective implements @auth: a verified access token whose session is live, at the
// assurance level the MFA rules ask for this operation (account.Gate). The principal is
// put in the context for the field's resolver.
func (r *Resolver) authDirective(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	p, err := r.Account.AuthenticateFor(ctx, operation(ctx))
	if err != nil {
		return nil, err
	}
	return next(account.WithPrincipal(ctx, p))
}

// hasRoleDirective implements @hasRole(role): like @auth, a live session of a usable
// account (UNAUTHENTICATED otherwise), whose role, as the store holds it on this request,
// is at least role (FORBIDDEN otherwise). The field's resolver never runs for a refused
// caller, and gets the principal in the context.
func (r *Resolver) hasRoleDirective(ctx context.Context, _ any, next graphql.Resolver, role model.Role) (any, error) {
	p, err := r.Account.AuthorizeFor(ctx, store.Role(role), operation(ctx))
	if err != nil {
		return nil, err
	}
	return next(account.WithPrincipal(ctx, p))
}

// operation names the field a directive guards, for the MFA rules (account.Gate).
func operation(ctx context.Context) string {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		return fc.Field.Name
	}
	return ""
}

// principal returns the caller authenticated by @auth or @hasRole.
func principal(ctx context.Context) (account.Principal, error) {
	if p, ok := account.PrincipalFrom(ctx); ok {
		return p, nil
	}
	return account.Principal{}, account.ErrUnauthenticated
}
