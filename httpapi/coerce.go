package httpapi

import (
	"encoding/json"
	"reflect"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// strictVariables applies the GraphQL spec's input coercion to String and ID variables,
// which gqlparser leaves lenient here: the body decoder keeps JSON numbers as json.Number
// (so that free `data` keeps its numbers exact), json.Number is a string kind, and
// gqlparser's variable check and gqlgen's UnmarshalString both take it for a string, so
// {"email": 5} reached login as "5". A value of a String or ID variable, or of a String or
// ID field of an input-object variable, at any depth and in lists, must be a JSON string
// (or null where the type allows it, which gqlparser has checked). IDs are strings in this
// API, so the spec's leniency for integer IDs is not kept either. Runs after validation,
// before execution, so nothing of a refused operation runs.
func strictVariables(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	for _, d := range op.VariableDefinitions {
		v, ok := vars[d.Variable]
		if !ok {
			continue
		}
		path := ast.Path{ast.PathName("variable"), ast.PathName(d.Variable)}
		if err := strictValue(schema, d.Type, v, path); err != nil {
			return err
		}
	}
	return nil
}

// maxStrictDepth bounds the walk: input types here nest two or three levels; a value
// nested deeper is refused rather than left unchecked.
const maxStrictDepth = 32

func strictValue(schema *ast.Schema, t *ast.Type, v any, path ast.Path) *gqlerror.Error {
	if v == nil {
		return nil
	}
	if len(path) > maxStrictDepth {
		err := gqlerror.ErrorPathf(path, "the variable is nested deeper than %d levels", maxStrictDepth)
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	if t.Elem != nil {
		// gqlparser may have rebuilt the list with a typed slice ([]string for a single
		// value standing for a list of one), hence reflection.
		list := reflect.ValueOf(v)
		if list.Kind() != reflect.Slice {
			return strictValue(schema, t.Elem, v, path)
		}
		for i := range list.Len() {
			if err := strictValue(schema, t.Elem, list.Index(i).Interface(), append(path, ast.PathIndex(i))); err != nil {
				return err
			}
		}
		return nil
	}
	def := schema.Types[t.NamedType]
	if def == nil {
		return nil
	}
	switch def.Kind {
	case ast.Scalar:
		if t.NamedType != "String" && t.NamedType != "ID" {
			return nil
		}
		if _, ok := v.(string); !ok {
			err := gqlerror.ErrorPathf(path, "cannot use %s as %s: a JSON string is required", jsonKind(v), t.NamedType)
			errcode.Set(err, errcode.ValidationFailed)
			return err
		}
	case ast.InputObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, f := range def.Fields {
			if fv, ok := m[f.Name]; ok {
				if err := strictValue(schema, f.Type, fv, append(path, ast.PathName(f.Name))); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonKind names a decoded JSON value's kind for a message.
func jsonKind(v any) string {
	switch v.(type) {
	case json.Number, float64, float32, int, int32, int64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return "a non-string value"
	}
}
