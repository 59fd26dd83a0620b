package account

import "fmt"

// Code is a stable error code of the API contract (extensions.code).
type Code string

// The codes the account rules produce. The error presenter maps anything else to
// UNAVAILABLE (store.ErrUnavailable) or INTERNAL.
const (
	CodeUnauthenticated        Code = "UNAUTHENTICATED"
	CodeForbidden              Code = "FORBIDDEN"
	CodeBadUserInput           Code = "BAD_USER_INPUT"
	CodeInvalidCredentials     Code = "INVALID_CREDENTIALS"
	CodeEmailTaken             Code = "EMAIL_TAKEN"
	CodeInvalidToken           Code = "INVALID_TOKEN"
	CodeInvalidRefreshToken    Code = "INVALID_REFRESH_TOKEN"
	CodeAnonymousTokenRequired Code = "ANONYMOUS_TOKEN_REQUIRED"
	CodeAccountDisabled        Code = "ACCOUNT_DISABLED"
	CodeRateLimited            Code = "RATE_LIMITED"
	CodeMFARequired            Code = "MFA_REQUIRED"
	CodeUnavailable            Code = "UNAVAILABLE"
	CodeInternal               Code = "INTERNAL"
)

// Error is a failure a client may see: a code, a message safe to show, and for
// BAD_USER_INPUT the field and (weak passwords) the reasons. The cause, if any, is for logs.
type Error struct {
	Code       Code
	Message    string
	Field      string
	Reasons    []string
	RetryAfter int
	// Reason refines a code for the client: for MFA_REQUIRED, "verify" (call verifyMfa)
	// or "enroll" (the role requires a second factor: enrol one).
	Reason string
	cause  error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the logged cause.
func (e *Error) Unwrap() error { return e.cause }

// Is matches errors of the same code, so errors.Is(err, ErrInvalidCredentials) works on
// copies that carry a cause or a field.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func (e *Error) with(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// The errors with one fixed message each: the message must never tell one cause from
// another (unknown email vs wrong password, expired vs replayed token).
var (
	ErrUnauthenticated        = &Error{Code: CodeUnauthenticated, Message: "a valid access token is required"}
	ErrInvalidCredentials     = &Error{Code: CodeInvalidCredentials, Message: "invalid email or password"}
	ErrEmailTaken             = &Error{Code: CodeEmailTaken, Message: "this email address is already registered", Field: "email"}
	ErrInvalidRefreshToken    = &Error{Code: CodeInvalidRefreshToken, Message: "the refresh token is invalid or has expired"}
	ErrAnonymousTokenRequired = &Error{Code: CodeAnonymousTokenRequired, Message: "a valid anonymous token is required: call anonymousToken and send it as Authorization: Bearer <token>"}
	ErrAccountDisabled        = &Error{Code: CodeAccountDisabled, Message: "this account is disabled"}
	ErrRegistrationClosed     = &Error{Code: CodeForbidden, Message: "registration is closed"}
)

func (e *Error) withField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

func badInput(field, msg string) *Error {
	return &Error{Code: CodeBadUserInput, Field: field, Message: msg}
}
