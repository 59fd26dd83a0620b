package resolvers

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/internal/reqid"
	"github.com/toktok/toktok/store"
)

// ErrorPresenter maps every resolver error to a code of the contract. Account errors carry
// their own code and safe message; a store outage is UNAVAILABLE; anything else is logged
// with its cause and shown as INTERNAL with a generic message. No message offers a
// suggestion (see withoutSuggestions).
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	present := presenter(log)
	return func(ctx context.Context, err error) *gqlerror.Error {
		e := present(ctx, err)
		e.Message = withoutSuggestions(e.Message)
		return e
	}
}

// withoutSuggestions cuts every "Did you mean …?" from a message. gqlgen's
// SetDisableSuggestion covers two validation rules; gqlparser's other rules (unknown
// argument, unknown input field, unknown type, enum values) still suggest, and a
// suggestion hands a schema-hiding deployment's field names to anyone who mistypes them.
// The suggestions quote GraphQL names, which cannot hold a "?", so each ends at the first.
func withoutSuggestions(msg string) string {
	for {
		i := strings.Index(msg, " Did you mean ")
		if i < 0 {
			return msg
		}
		j := strings.IndexByte(msg[i:], '?')
		if j < 0 {
			return msg[:i]
		}
		msg = msg[:i] + msg[i+j+1:]
	}
}

func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Extensions["code"] != nil && ge.Err == nil {
			// gqlgen's own parse/validation errors already carry their code.
			return gqlErr
		}
		var ae *account.Error
		switch {
		case errors.As(err, &ae):
			gqlErr.Message = ae.Message
			gqlErr.Extensions = map[string]any{"code": string(ae.Code)}
			if ae.Field != "" {
				gqlErr.Extensions["field"] = ae.Field
			}
			if len(ae.Reasons) > 0 {
				gqlErr.Extensions["reasons"] = ae.Reasons
			}
			if ae.Reason != "" {
				gqlErr.Extensions["reason"] = ae.Reason
			}
			if ae.RetryAfter > 0 {
				gqlErr.Extensions["retryAfter"] = ae.RetryAfter
			}
			if ae.Unwrap() != nil {
				log.DebugContext(ctx, "request refused", "code", ae.Code, "cause", ae.Unwrap())
			}
		case errors.Is(err, store.ErrUnavailable):
			log.ErrorContext(ctx, "store unavailable", "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = "the service is temporarily unavailable, retry later"
			gqlErr.Extensions = map[string]any{"code": string(account.CodeUnavailable)}
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			gqlErr.Message = "the request was cancelled or timed out"
			gqlErr.Extensions = map[string]any{"code": string(account.CodeUnavailable)}
		default:
			if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
				// Errors gqlgen raises while coercing arguments (bad enum, wrong type)
				// arrive already coded.
				return gqlErr
			}
			log.ErrorContext(ctx, "internal error", "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = "internal error"
			gqlErr.Extensions = map[string]any{"code": string(account.CodeInternal)}
			if id := reqid.From(ctx); id != "" {
				// The id of the log line above, for the user's report.
				gqlErr.Extensions["requestId"] = id
			}
		}
		return gqlErr
	}
}

// RecoverFunc turns a panic in a resolver into INTERNAL, logging it with its value.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", v)
		return errors.New("internal panic")
	}
}
