package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestNew: no endpoint and no exporter is the no-op provider (off, no server tracer); an
// exporter or an endpoint turns it on; a ratio outside [0, 1] is refused; ratio 0 records
// no new trace and 1 records every one.
func TestNew(t *testing.T) {
	off, err := New(t.Context(), Config{SampleRatio: 1})
	if err != nil || off.On() || off.ServerTracer() != nil {
		t.Fatalf("off: %v, on %v", err, off.On())
	}
	_, span := off.Tracer.Start(t.Context(), "x")
	if span.SpanContext().IsValid() {
		t.Errorf("the no-op tracer made a real span")
	}
	span.End()
	if _, err := New(t.Context(), Config{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1.5}); err == nil {
		t.Errorf("ratio 1.5 accepted")
	}
	for _, ratio := range []float64{0, 1} {
		exp := tracetest.NewInMemoryExporter()
		tr, err := New(t.Context(), Config{SampleRatio: ratio, Exporter: exp, Version: "v1"})
		if err != nil || !tr.On() || tr.ServerTracer() == nil {
			t.Fatalf("ratio %v: %v", ratio, err)
		}
		for range 20 {
			_, span := tr.Tracer.Start(context.Background(), "x")
			End(span, nil)
		}
		// Exported at End (synchronously); Shutdown would empty the in-memory exporter.
		if got, want := len(exp.GetSpans()), int(ratio*20); got != want {
			t.Errorf("ratio %v: %d spans exported, want %d", ratio, got, want)
		}
		if err := tr.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
