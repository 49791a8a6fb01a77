package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// User is who a request acts for.
type User struct {
	Name  string
	Admin bool
	// Models, for a worker token, are the models whose tasks it may claim
	// and end over the worker protocol (/worker/ routes), the only routes it
	// may use; nil for a user.
	Models []string
	// TokenID names the token that authenticated (a worker's leases are
	// its token's).
	TokenID string
	// anonymous: no token, Config.Anonymous let the request in.
	anonymous bool
}

// ErrUnauthorized is what an Authenticate function returns, wrapped or not,
// for a token it does not accept; the server answers 401. Any other error
// is a 500 (the token store failed).
var ErrUnauthorized = errors.New("unauthorized")

// Config configures a Server. Models is required; everything else has a
// default or is optional.
type Config struct {
	// Models are the models served, over one backend (catalog.Serve).
	Models *Models
	// DefaultTaskType is the model POST /tasks creates when the body names
	// no task_type (the upload → process lifecycle: "analysis"). Default: the first model that
	// clients may create.
	DefaultTaskType string
	// Authenticate resolves a bearer token to a user (auth.Store). Nil
	// refuses every token: only anonymous access, if enabled, works.
	Authenticate func(ctx context.Context, token string) (User, error)
	// Anonymous, when set, lets requests without a token act as this
	// (non-admin) user, but only requests from a loopback address: the
	// operator's explicit opt-in for local use (make run, the docs' curl
	// examples). Requests from elsewhere still need a token.
	Anonymous string
	// Blobs stores uploaded and output files; required when a model has
	// uploads. BlobHandler, when set, serves the store's signed URLs under
	// BlobPath, which it receives whole (blob/local's Handler; S3 serves its
	// own).
	Blobs       blob.Store
	BlobHandler http.Handler
	BlobPath    string // default "/blobs/"
	// CORSOrigins lists the browser origins allowed to call the API and
	// to upload to signed URLs ("*" allows any); empty disables CORS.
	CORSOrigins []string
	// OpenAPI is the document served at /openapi.json (catalog.OpenAPI).
	OpenAPI []byte
	// Logger receives structured logs (default: JSON on stderr).
	Logger *slog.Logger
	// Registry receives the server's metrics (default: a new registry with
	// the Go and process collectors); /metrics serves it.
	Registry *prometheus.Registry
	// MaxBodyBytes bounds a JSON request body (default 1 MiB).
	MaxBodyBytes int64
	// SweepEvery is how often the sweeper applies timeouts (default 15 s;
	// the upload → process lifecycle's cleanup job runs every 15 minutes, which lets tasks
	// outlive their timeout by that much).
	SweepEvery time.Duration
	// Retention deletes finished tasks whose last change is older; zero
	// keeps them.
	Retention time.Duration
	// RescueEvery is how often Run rescues the tasks of models with a
	// worker section whose worker's lease expired (default: the shortest
	// lease of those models).
	RescueEvery time.Duration
	// ClaimPoll is how often a waiting worker claim (POST /worker/claim
	// with wait_seconds) looks for tasks when nothing woke it (default
	// ClaimPoll): the safety net under the wake-ups of tasks queued by
	// this process and, over PostgreSQL and SQLite, by other processes.
	ClaimPoll time.Duration
	// Wake, when set, is called with a model's name after a task of it was
	// queued, so that a worker pool in this process claims it at once.
	Wake func(model string)
	// Heartbeat is how often an event stream sends a comment to keep
	// proxies from closing it (default 15 s).
	Heartbeat time.Duration
	// TokenRecheck is how often an open event stream authenticates its
	// token again; a revoked token (or a user who may no longer see the
	// task) ends the stream (default DefaultTokenRecheck).
	TokenRecheck time.Duration
	// BodyMinRate and BodyGrace cut off slow request bodies (a JSON
	// request, or an upload to a signed URL this server serves): once
	// BodyGrace has passed since the request started, the body must have
	// averaged BodyMinRate bytes per second, or the read fails and the
	// client gets 408 (or the connection is closed). A large upload at a
	// real client's pace passes; a trickle holding a connection does not.
	// Defaults: DefaultBodyMinRate, DefaultBodyGrace.
	BodyMinRate int64
	BodyGrace   time.Duration
	// ReadHeaderTimeout bounds the time a client takes to send a request's
	// headers (Serve and ListenAndServe; default DefaultReadHeaderTimeout).
	ReadHeaderTimeout time.Duration
	// Pipelines serves pipeline tracking under /pipelines (pipelines.go)
	// over this tracker, usually on the models' database; nil answers
	// those routes 404. The server serves a copy that reports the runs'
	// and subtasks' status changes to its lifecycle metrics (models
	// pipeline_run and pipeline_subtask), as every model's engine does.
	Pipelines *pipeline.Tracker
}

// Defaults of Config's limits on slow clients.
const (
	DefaultBodyMinRate       = 64 << 10 // bytes per second
	DefaultBodyGrace         = 10 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultTokenRecheck      = 5 * time.Second
)

// Server is the HTTP API over a set of models. Its Handler serves the
// routes; Run runs the sweeper and the metrics feed until its context ends.
type Server struct {
	cfg     Config
	models  *Models
	log     *slog.Logger
	handler http.Handler
	metrics *metrics
	catalog *backends.Catalog
	owner   string // this process in sweeper leases

	sweepOnce sync.Once
	sweeps    []func(context.Context) error

	mux   *http.ServeMux // Mount adds user interfaces (pages.go)
	pages atomic.Bool    // a user interface is mounted: session cookies count

	pipelinePulse pulse // fires after each pipeline write over HTTP (pipelinepages.go)

	claimWakers *claimWakers // wake waiting worker claims (claimwake.go)

	// afterClaim, when set (tests), runs after each claim of a worker's
	// claim request, with the request's context.
	afterClaim func(context.Context)
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Models == nil || len(cfg.Models.order) == 0 {
		return nil, errors.New("server: Config.Models is required and must hold at least one model")
	}
	if err := cfg.Models.Err(); err != nil {
		return nil, err
	}
	if cfg.DefaultTaskType == "" {
		for _, b := range cfg.Models.order {
			if len(b.api().Create) > 0 {
				cfg.DefaultTaskType = b.name()
				break
			}
		}
	}
	if cfg.DefaultTaskType != "" {
		if _, ok := cfg.Models.byName[cfg.DefaultTaskType]; !ok {
			return nil, fmt.Errorf("server: DefaultTaskType %q is not a model; models are %s", cfg.DefaultTaskType, strings.Join(cfg.Models.Names(), ", "))
		}
	}
	for _, b := range cfg.Models.order {
		if b.api().Uploads != nil && cfg.Blobs == nil {
			return nil, fmt.Errorf("server: model %s takes uploads: Config.Blobs is required", b.name())
		}
	}
	if cfg.Anonymous != "" {
		if err := auth.ValidateUser(cfg.Anonymous); err != nil {
			return nil, fmt.Errorf("server: Config.Anonymous: %w", err)
		}
	}
	if cfg.BlobPath == "" {
		cfg.BlobPath = "/blobs/"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 15 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.TokenRecheck <= 0 {
		cfg.TokenRecheck = DefaultTokenRecheck
	}
	if cfg.BodyMinRate <= 0 {
		cfg.BodyMinRate = DefaultBodyMinRate
	}
	if cfg.BodyGrace <= 0 {
		cfg.BodyGrace = DefaultBodyGrace
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ClaimPoll <= 0 {
		cfg.ClaimPoll = ClaimPoll
	}
	if cfg.Pipelines != nil {
		cfg.Pipelines = cfg.Pipelines.Observed(cfg.Models.metrics.Model(pipelinerun.Lifecycle()), cfg.Models.metrics.Model(pipelinesubtask.Lifecycle()))
	}
	host, _ := os.Hostname()
	s := &Server{cfg: cfg, models: cfg.Models, log: cfg.Logger, owner: fmt.Sprintf("serve:%s:%d:%s", host, os.Getpid(), randomHex(4))}
	m, err := newMetrics(cfg.Registry, cfg.Models)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.claimWakers = newClaimWakers(cfg.Logger)
	s.catalog = cfg.Models.Catalog()
	s.handler = s.slowBodies(s.routes())
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops what the handler started for the requests it served: the
// listeners, one per model, that wake waiting worker claims when another
// process queues a task (on PostgreSQL a LISTEN connection each). Serve
// calls it when it returns; a service that serves Handler itself calls it
// when it stops serving. Claims that wait afterwards find tasks queued by
// other processes by Config.ClaimPoll alone. A listener also stops by
// itself a minute after the last claim that waited on its model.
func (s *Server) Close() error {
	s.claimWakers.close()
	return nil
}

// routes builds the mux. Every API route goes through auth; health, the
// OpenAPI document, metrics and signed blob URLs do not.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.mux = mux
	api := func(pattern string, methods map[string]http.HandlerFunc) {
		mux.Handle(pattern, s.observe(pattern, s.cors(s.allow(methods, true))))
	}
	open := func(pattern string, methods map[string]http.HandlerFunc) {
		mux.Handle(pattern, s.observe(pattern, s.cors(s.allow(methods, false))))
	}
	open("/healthz", map[string]http.HandlerFunc{"GET": s.healthz})
	open("/readyz", map[string]http.HandlerFunc{"GET": s.readyz})
	open("/openapi.json", map[string]http.HandlerFunc{"GET": s.openapi})
	// /metrics keeps its own CORS-less handler, but answers methods and
	// query strings as every other route does.
	mux.Handle("/metrics", s.observe("/metrics", s.allow(map[string]http.HandlerFunc{
		"GET": promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP,
	}, false)))
	api("/tasks", map[string]http.HandlerFunc{"GET": s.listTasks, "POST": s.createTask})
	api("/tasks/{id}", map[string]http.HandlerFunc{"GET": s.getTask})
	api("/tasks/{id}/history", map[string]http.HandlerFunc{"GET": s.taskHistory})
	api("/tasks/{id}/cancel", map[string]http.HandlerFunc{"POST": s.cancelTask})
	api("/tasks/{id}/events", map[string]http.HandlerFunc{"GET": s.taskEvents})
	api("/tasks/{id}/upload-urls", map[string]http.HandlerFunc{"POST": s.uploadURLs})
	api("/tasks/{id}/process", map[string]http.HandlerFunc{"POST": s.process})
	api("/tasks/{id}/downloads", map[string]http.HandlerFunc{"GET": s.downloads})
	s.workerRoutes(api)
	s.pipelineRoutes(api)
	if s.cfg.BlobHandler != nil {
		mux.Handle(s.cfg.BlobPath, s.observe(s.cfg.BlobPath, s.cors(s.gateUploads(s.cfg.BlobHandler))))
	}
	mux.Handle("/", s.observe("other", s.cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeProblem(w, r, notFound(fmt.Sprintf("no route %s %s; see /openapi.json", r.Method, r.URL.Path)))
	}))))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			// ServeMux answers a request for * with an empty 400 itself.
			s.writeProblem(w, r, asteriskProblem(r))
			return
		}
		if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
			// ServeMux would redirect to the clean path with an HTML body;
			// every route has one path, and an answer is problem+json.
			p := fmt.Sprintf("%+q", r.URL.Path)
			s.writeProblem(w, r, notFound(fmt.Sprintf("no route %s %s: a path has no empty, . or .. segment", r.Method, truncate(p[1:len(p)-1], 300))))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cleanPath is p as ServeMux cleans it: without empty, . and .. segments,
// a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// asteriskProblem refuses a request whose target is * (net/http answers
// OPTIONS * itself; the HTTP/2 preface PRI * HTTP/2.0 its HTTP/1 server
// passes on).
func asteriskProblem(r *http.Request) *Problem {
	if r.Method == "PRI" && r.ProtoMajor == 2 {
		return problem(http.StatusHTTPVersionNotSupported, "unsupported", "HTTP Version Not Supported",
			"the request is an HTTP/2 connection preface (PRI * HTTP/2.0); this port takes HTTP/1.1 without TLS, not HTTP/2")
	}
	return problem(http.StatusBadRequest, "validation", "Invalid request", "the request target * names no resource; send a path such as /tasks")
}

// allow dispatches on the method, answers 405 as problem+json with Allow,
// and authenticates first when auth is set. HEAD is answered by GET's
// handler, and Allow lists it with GET.
func (s *Server) allow(methods map[string]http.HandlerFunc, auth bool) http.Handler {
	names := make([]string, 0, len(methods)+1)
	for m := range methods {
		names = append(names, m)
	}
	if _, ok := methods[http.MethodHead]; !ok && methods[http.MethodGet] != nil {
		names = append(names, http.MethodHead)
	}
	slices.Sort(names)
	allowed := strings.Join(names, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allowed)
			s.writeProblem(w, r, problem(http.StatusMethodNotAllowed, "method", "Method not allowed", fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, allowed)))
			return
		}
		if err := checkQuery(r); err != nil {
			s.writeProblem(w, r, err)
			return
		}
		if auth {
			u, err := s.authenticate(r)
			if err != nil {
				s.writeProblem(w, r, err)
				return
			}
			if err := checkScope(r.URL.Path, u); err != nil {
				s.writeProblem(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		}
		h(w, r)
	})
}

type userKey struct{}

func userOf(r *http.Request) User { u, _ := r.Context().Value(userKey{}).(User); return u }

// authenticate reads the bearer token (or, for event streams, which
// browsers open without headers, the access_token query parameter).
func (s *Server) authenticate(r *http.Request) (User, error) {
	token, header, err := bearerToken(r)
	if err != nil {
		return User{}, err
	}
	if header && r.URL.Query().Has("access_token") {
		return User{}, badRequest("access_token", "conflict", "the request has an Authorization header too; send the token once, in the header or (on an event stream) as access_token")
	}
	if !header && strings.HasSuffix(r.URL.Path, "/events") {
		token = r.URL.Query().Get("access_token")
	}
	if token == "" {
		token = s.sessionToken(r) // pages.go
	}
	if token == "" {
		if s.cfg.Anonymous != "" && loopback(r.RemoteAddr) {
			if err := s.fromThisMachine(r); err != nil {
				return User{}, err
			}
			return User{Name: s.cfg.Anonymous, anonymous: true}, nil
		}
		return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "a bearer token is required (taskmodel token create --user NAME)")
	}
	return s.checkToken(r.Context(), token)
}

// bearerToken reads r's Authorization header: header reports that r has
// one, err that it is not "Bearer <token>" (a 401) or that r has more than
// one (a 400: which one the request acts with would be a guess).
func bearerToken(r *http.Request) (token string, header bool, err error) {
	if n := len(r.Header.Values("Authorization")); n > 1 {
		return "", true, badRequest("Authorization", "conflict", fmt.Sprintf("the request has %d Authorization headers; send one", n))
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, nil
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
		return "", true, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "the Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(rest), true, nil
}

// checkToken resolves a non-empty token to its user: a refused token is a
// 401 *Problem, a failing token store any other error. The API's bearer
// tokens and the dashboard's session cookies both go through it.
func (s *Server) checkToken(ctx context.Context, token string) (User, error) {
	if s.cfg.Authenticate == nil {
		return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "this server accepts no tokens")
	}
	u, err := s.cfg.Authenticate(ctx, token)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "the token is unknown, malformed or revoked")
	case err != nil:
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	return u, nil
}

// fromThisMachine refuses anonymous access to what a web page could send
// from the browser of a user on this machine: a request from another origin
// (a browser sends a form or a text/plain POST without asking first, with
// its Origin) unless CORSOrigins lists it, and a request addressed to a
// host name other than this machine's (a page whose name was made to
// resolve to 127.0.0.1, DNS rebinding). Programs on the machine — curl,
// scripts, the dashboard served by this server — send neither.
func (s *Server) fromThisMachine(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !loopbackHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")) {
		return problem(http.StatusForbidden, "forbidden", "Forbidden",
			fmt.Sprintf("anonymous access answers requests addressed to this machine (localhost or a loopback address), not to %s: send a bearer token", quoteName(r.Host)))
	}
	// Only origins listed by name: --cors-origin '*' lets any page call the
	// API with a token, not act as the anonymous user.
	origin := r.Header.Get("Origin")
	if origin == "" {
		// A browser that sends no Origin (a GET) still says where the
		// request comes from.
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return nil
		}
		if r.Header.Get("Sec-Fetch-Mode") == "navigate" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			return nil // a link followed to the dashboard: the page is shown, not read by the other site
		}
		return problem(http.StatusForbidden, "forbidden", "Forbidden",
			"anonymous access is for programs on this machine, not for a web page of another site (Sec-Fetch-Site: "+quoteName(r.Header.Get("Sec-Fetch-Site"))+"): send a bearer token")
	}
	if origin == "http://"+r.Host || slices.Contains(s.cfg.CORSOrigins, origin) {
		return nil
	}
	return problem(http.StatusForbidden, "forbidden", "Forbidden",
		fmt.Sprintf("anonymous access is for programs on this machine, not for a web page of another origin (%s): send a bearer token, or list the origin with --cors-origin", quoteName(origin)))
}

// loopback reports whether a request's remote address is on this machine.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackAddr reports whether a listen address (host:port) binds only
// loopback interfaces; anonymous access is refused on any other.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

// loopbackHost reports whether a host (no port, no brackets) names this
// machine: localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cors adds the CORS headers for allowed origins and answers preflights:
// 204 for an allowed origin, a 403 problem for another (not the 405 of a
// route that takes no OPTIONS), which says the origin is not allowed
// without listing the ones that are.
func (s *Server) cors(next http.Handler) http.Handler {
	any := slices.Contains(s.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if origin != "" && (any || slices.Contains(s.cfg.CORSOrigins, origin)) {
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Location, Allow")
			if preflight {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Length")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if preflight {
			detail := fmt.Sprintf("a web page of origin %s may not call this server: it is not an origin --cors-origin allows", quoteName(origin))
			if len(s.cfg.CORSOrigins) == 0 {
				detail = fmt.Sprintf("a web page of origin %s may not call this server: no --cors-origin allows an origin", quoteName(origin))
			}
			s.writeProblem(w, r, problem(http.StatusForbidden, "forbidden", "Forbidden", detail))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.models.backend.ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
		s.writeProblem(w, r, problem(http.StatusServiceUnavailable, "unavailable", "Not ready", "the database does not answer"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.OpenAPI) == 0 {
		s.writeProblem(w, r, notFound("this server was built without an OpenAPI document"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.cfg.OpenAPI)
}

// Run runs the background work of the server until ctx ends: the sweeper
// (timeouts, uploads cleanup, retention), the rescue of tasks whose
// worker's lease expired, the metrics feed, and for the worker protocol
// the tasks this process queues behind its claims' position (claimed by
// the next claim rather than within a second).
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, b := range s.models.order {
		wg.Go(func() { s.metrics.follow(ctx, b.name(), b.changes(ctx)) })
		if o := workOpsOf(b); o != nil {
			wg.Go(o.followLocal(ctx))
		}
	}
	if tr := s.cfg.Pipelines; tr != nil {
		runs, subs := tr.Engines()
		wg.Go(func() { s.metrics.follow(ctx, pipelinerun.ModelName, localChanges(ctx, runs)) })
		wg.Go(func() { s.metrics.follow(ctx, pipelinesubtask.ModelName, localChanges(ctx, subs)) })
	}
	wg.Go(func() { s.sweepLoop(ctx) })
	wg.Go(func() { s.rescueLoop(ctx) })
	wg.Wait()
	return nil
}

// ListenAndServe serves on addr until ctx ends, then shuts down gracefully:
// it stops accepting, ends event streams, waits up to grace for the
// requests in flight, and closes the server (Close).
func (s *Server) ListenAndServe(ctx context.Context, addr string, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, grace)
}

// Serve is ListenAndServe on a listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	defer s.Close()
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(cancelBase) // event streams end with the server
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(problemListener{ln}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
