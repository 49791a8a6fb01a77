package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Enabled reports whether the standard OpenTelemetry environment variables
// (read through getenv) ask for traces:
//
//   - OTEL_SDK_DISABLED=true turns tracing off, whatever else is set;
//   - OTEL_TRACES_EXPORTER=otlp turns it on, =none off; any other exporter
//     is an error (this build exports OTLP only);
//   - with OTEL_TRACES_EXPORTER unset, OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set turns it on;
//   - nothing set: off.
//
// The OTLP protocol is http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL and
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL may say so, and nothing else), and an
// endpoint, when set, is an http or https URL with a host. These are
// checked only when tracing is on. As the OpenTelemetry specification asks
// of enumerations and booleans, the values of OTEL_SDK_DISABLED,
// OTEL_TRACES_EXPORTER and the protocols are read without regard to case
// (OTLP, True), and without surrounding spaces.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := false
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); strings.ToLower(exp) {
	case "otlp":
		on = true
	case "none":
		return false, nil
	case "":
		on = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" || strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported; use otlp or none", exp)
	}
	if !on {
		return false, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" && !strings.EqualFold(p, "http/protobuf") {
			return false, fmt.Errorf("%s: %q is not supported; use http/protobuf", name, p)
		}
	}
	for _, v := range []struct{ name, example string }{
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
	} {
		if e := strings.TrimSpace(getenv(v.name)); e != "" && !endpointURL(e) {
			return false, fmt.Errorf("%s: %q is not an endpoint URL; use an http or https URL with a host, such as %s", v.name, e, v.example)
		}
	}
	return true, nil
}

// endpointURL tells whether e is what the OTLP/HTTP exporter can send to:
// an absolute http or https URL with a host (the exporter would otherwise
// ignore it, or send nowhere).
func endpointURL(e string) bool {
	u, err := url.Parse(e)
	if err != nil || u.Opaque != "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return (scheme == "http" || scheme == "https") && u.Hostname() != ""
}

// FromEnv returns a tracer provider exporting over OTLP/HTTP as the
// standard OpenTelemetry environment variables say (the endpoint, headers,
// timeout and the rest are read by the exporter; the service name from
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES, else service), or nil when
// they do not ask for traces (Enabled). The caller shuts it down, which
// flushes the spans not yet sent.
func FromEnv(ctx context.Context, service string) (*sdktrace.TracerProvider, error) {
	on, err := Enabled(os.Getenv)
	if err != nil || !on {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", service)),
		resource.Environment(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: the resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
