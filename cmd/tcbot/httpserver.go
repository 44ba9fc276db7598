package main

import (
	"net/http"
	"time"
)

// Limits of the HTTP server of serve and worker. Anyone can connect, so a
// client that sends or reads slowly must not hold a connection for long;
// bodies are the webhook handler's business (webhook.Options: MaxBody,
// MaxReading, ReadTimeout).
const (
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds a whole request; the webhook handler cuts a body
	// sooner (webhook.DefaultReadTimeout).
	readTimeout = 30 * time.Second
	// writeTimeout runs from the end of the headers to the end of the
	// reply: room for a webhook body, the Sink's transaction
	// (webhook.AcceptTimeout) and a dashboard or /metrics page.
	writeTimeout   = 60 * time.Second
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10 // GitHub's headers take about 1 KiB
)

// newHTTPServer returns the server for h with those limits.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}
