// Package observed wraps a store.Store so that an Observer sees every call: its method
// name and context when it starts, its error when it ends (the metrics' store latency and
// errors by method, a trace span per call). The methods are generated from the interface
// (observed_gen.go), so none is missed when it grows.
package observed

//go:generate go run ../../internal/cmd/storeobserved -store .. -out observed_gen.go

import (
	"context"

	"github.com/toktok/toktok/store"
)

// Observer is told of every store call. Begin runs before it with the call's context and
// method name and returns the context the call runs with (a span's, say) and the function
// the call's end reports its error to (nil on success). Both run on the caller's path:
// they must be cheap and must not block.
type Observer interface {
	Begin(ctx context.Context, op string) (context.Context, func(err error))
}

// Store is s observed by obs. It has store.Store's methods; Wrap adds the optional
// interfaces s has.
type Store struct {
	s   store.Store
	obs Observer
}

// sessionUser is a Store whose store also has store.SessionUserStore.
type sessionUser struct {
	*Store
	su store.SessionUserStore
}

// Wrap returns s observed by obs, with the optional interfaces of s (so that the account
// service still finds store.SessionUserStore where the backend has it).
func Wrap(s store.Store, obs Observer) store.Store {
	o := &Store{s: s, obs: obs}
	if su, ok := s.(store.SessionUserStore); ok {
		return sessionUser{Store: o, su: su}
	}
	return o
}

// Unwrap is the observed store.
func (o *Store) Unwrap() store.Store { return o.s }

var (
	_ store.Store            = (*Store)(nil)
	_ store.SessionUserStore = sessionUser{}
)
