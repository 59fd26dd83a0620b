package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph/model"
)

// profileInput turns updateProfile's input into the account's, telling a field left out
// from a field sent as null: the generated model has a nil pointer (or map) for both, and
// only the first keeps the stored value. Which fields the request holds is read from the
// argument as the document and the variables give it, the way gqlgen decoded it: an input
// object in a variable holds the keys the JSON object has; one written in the document
// holds its fields but those set from a variable the request did not send, which the
// GraphQL spec counts as absent.
func profileInput(ctx context.Context, in model.UpdateProfileInput) account.ProfileInput {
	out := account.ProfileInput{Name: in.Name, Surname: in.Surname, Pseudo: in.Pseudo, Lang: in.Lang, Data: in.Data}
	raw, ok := rawInput(ctx)
	if !ok {
		// Not under a gqlgen request (never in the server): what is not null is present.
		out.Present = account.ProfileFields{
			Name: in.Name != nil, Surname: in.Surname != nil, Pseudo: in.Pseudo != nil,
			Lang: in.Lang != nil, Data: in.Data != nil,
		}
		return out
	}
	has := func(k string) bool { _, ok := raw[k]; return ok }
	out.Present = account.ProfileFields{
		Name: has("name"), Surname: has("surname"), Pseudo: has("pseudo"), Lang: has("lang"), Data: has("data"),
	}
	return out
}

// rawInput returns the field's "input" argument as the request gives it, before decoding.
func rawInput(ctx context.Context) (map[string]any, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	args := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
	raw, ok := args["input"].(map[string]any)
	return raw, ok
}
