// Package gqlscalar holds the GraphQL scalars whose coercion errors must reach the client
// as BAD_USER_INPUT with the field named, not as gqlgen's uncoded errors (which the error
// presenter would have to show as INTERNAL).
package gqlscalar

import (
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MarshalJSON writes the JSON scalar: a JSON object of free client data.
func MarshalJSON(m map[string]any) graphql.Marshaler {
	if m == nil {
		return graphql.Null
	}
	return graphql.MarshalMap(m)
}

// UnmarshalJSON reads the JSON scalar. Anything but an object is BAD_USER_INPUT on the
// field "data" (the only input field of this type).
func UnmarshalJSON(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &gqlerror.Error{
			Message:    fmt.Sprintf("data must be a JSON object, not %s", kind(v)),
			Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": "data"},
		}
	}
	return m, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
