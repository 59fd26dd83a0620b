// Package tracing sets up OpenTelemetry traces: off by default, exported over OTLP/HTTP
// to --otlp-endpoint when set, sampled by --trace-sample-ratio (parent-based, so a
// caller's sampled trace stays whole). The services get a trace.Tracer; with tracing off
// it is OpenTelemetry's no-op tracer, which costs next to nothing.
package tracing

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of TokTok's spans and its service.name.
const Name = "toktok"

// Config says where traces go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's base URL (http://collector:4318); empty with
	// no Exporter: tracing off.
	Endpoint string
	// SampleRatio is the share of new traces kept, 0 to 1.
	SampleRatio float64
	// Version is the service.version resource attribute.
	Version string
	// Exporter, when set, receives the spans instead of an OTLP exporter (tests use an
	// in-memory one). Spans are exported synchronously to it.
	Exporter sdktrace.SpanExporter
}

// Tracing is the tracer provider of one app.
type Tracing struct {
	tp     trace.TracerProvider
	sdk    *sdktrace.TracerProvider // nil when off
	Tracer trace.Tracer
}

// On reports whether spans are recorded and exported.
func (t *Tracing) On() bool { return t.sdk != nil }

// New builds the provider c asks for.
func New(ctx context.Context, c Config) (*Tracing, error) {
	if c.Endpoint == "" && c.Exporter == nil {
		tp := noop.NewTracerProvider()
		return &Tracing{tp: tp, Tracer: tp.Tracer(Name)}, nil
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return nil, fmt.Errorf("trace sample ratio %v is not between 0 and 1", c.SampleRatio)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", Name), attribute.String("service.version", c.Version))),
	}
	if c.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(c.Exporter))
	} else {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint))
		if err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	sdk := sdktrace.NewTracerProvider(opts...)
	return &Tracing{tp: sdk, sdk: sdk, Tracer: sdk.Tracer(Name)}, nil
}

// ServerTracer is Tracer when tracing is on, else nil: the HTTP layer skips its spans
// altogether then.
func (t *Tracing) ServerTracer() trace.Tracer {
	if t.sdk == nil {
		return nil
	}
	return t.Tracer
}

// Shutdown flushes the spans not exported yet and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// Propagator reads and writes W3C trace context (traceparent, tracestate) headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// End ends span, marking it failed with err (when not nil).
func End(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
