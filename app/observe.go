package app

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/toktok/toktok/metrics"
	"github.com/toktok/toktok/store/observed"
	"github.com/toktok/toktok/tracing"
)

// storeObserver is what the app observes of each store call (store/observed): its
// duration and error in the metrics (nil: none) and, inside a trace, a client span under
// the request's.
type storeObserver struct {
	m      *metrics.Metrics
	tracer trace.Tracer
}

var _ observed.Observer = storeObserver{}

func (o storeObserver) Begin(ctx context.Context, op string) (context.Context, func(error)) {
	start := time.Now()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// Outside a trace (the outbox worker's polls, the purge loop): no root span for
		// each call, which would flood the collector with one-span traces.
		return ctx, func(err error) { o.m.StoreCall(op, time.Since(start), err) }
	}
	ctx, span := o.tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.operation.name", op)))
	return ctx, func(err error) {
		o.m.StoreCall(op, time.Since(start), err)
		if err != nil {
			// An unknown id or a lost race is an answer, not a failed call.
			if kind := metrics.ErrorKind(err); kind == "not_found" || kind == "conflict" {
				span.SetAttributes(attribute.String("toktok.store.outcome", kind))
				err = nil
			}
		}
		tracing.End(span, err)
	}
}
