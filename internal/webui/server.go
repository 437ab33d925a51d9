package webui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/internal/timeline"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// ContentSecurityPolicy is sent with every response: nothing but the
// page's own stylesheet and inline SVG, no script, no frame, no form
// posting anywhere else.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// cachedTimelines bounds the analysed incidents kept between requests.
const cachedTimelines = 4

//go:embed static
var staticFiles embed.FS

// Options configure a Server.
type Options struct {
	// Evidence is what the pages show.
	Evidence Evidence
	// Logger receives the errors of requests; nil: none.
	Logger *zap.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Share lets the bundle page sign download links (S3 stores only):
	// anyone who can open the page can then hand out the evidence.
	Share bool
	// Keys are the trusted public keys the bundle page checks signatures
	// against; nil: signatures are reported, not checked.
	Keys *bundle.KeyRing
	// Prefetch analyses the newest incidents the incidents page lists in
	// the background, one at a time, so that the page of one opened from
	// the list is ready: the analysis of a large incident takes seconds.
	// Close stops it.
	Prefetch bool
}

// prefetched is how many of the incidents listed first Prefetch analyses.
const prefetched = 2

// Server serves the pages. It only reads the evidence.
type Server struct {
	ev    Evidence
	log   *zap.Logger
	now   func() time.Time
	share bool
	keys  *bundle.KeyRing
	// prefetch, when set, runs analyses in the background until stop.
	prefetch bool
	stop     context.CancelFunc
	bg       context.Context
	wg       sync.WaitGroup
	pending  map[string]bool
	mux      *http.ServeMux
	static   http.Handler

	// build serialises timeline builds, so that at most one incident's
	// evidence is being read at a time: memory stays that of one build.
	build sync.Mutex
	mu    sync.Mutex
	cache []cached
	// facts are what the service and deploy filters match, by incident,
	// for every incident analysed: a few names each, kept when its
	// analysis leaves the cache.
	facts map[string]*filterFacts
}

// filterFacts are the names the incidents page's service and deploy
// filters match in one version of an incident's evidence, or why it
// could not be read.
type filterFacts struct {
	version string
	err     error
	// services have telemetry or a deploy event in the evidence.
	services map[string]bool
	// deploys are the IDs of deploy events and the deployment IDs of
	// versions with telemetry.
	deploys map[string]bool
}

// maxFacts bounds the incidents whose filter facts are kept.
const maxFacts = 10000

func factsOf(version string, tl *timeline.Timeline) *filterFacts {
	f := &filterFacts{version: version, services: map[string]bool{}, deploys: map[string]bool{}}
	for _, sv := range tl.Services {
		f.services[sv.Name] = true
	}
	for _, e := range tl.Events {
		if e.Kind == string(incident.EventDeploy) {
			f.services[e.Service] = true
			f.deploys[e.ID] = true
		}
	}
	for _, v := range tl.Versions {
		if v.DeploymentID != "" {
			f.deploys[v.DeploymentID] = true
		}
	}
	return f
}

// noteFacts keeps an incident's filter facts.
func (s *Server) noteFacts(id string, f *filterFacts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.facts[id]; !ok && len(s.facts) >= maxFacts {
		for k := range s.facts {
			delete(s.facts, k)
			break
		}
	}
	s.facts[id] = f
}

// factsFor returns the filter facts of the incident's current evidence,
// nil when it has not been analysed since it last changed.
func (s *Server) factsFor(ctx context.Context, id string) (*filterFacts, error) {
	version, err := s.ev.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.facts[id]; f != nil && f.version == version {
		return f, nil
	}
	return nil, nil
}

type cached struct {
	id, version string
	a           *analysed
}

// analysed is one incident's evidence as the pages show it.
type analysed struct {
	tl *timeline.Timeline
	// rec is the incident record, nil when the evidence has none.
	rec *incident.Incident
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Evidence == nil {
		return nil, errors.New("webui: no evidence to serve")
	}
	s := &Server{ev: opts.Evidence, log: opts.Logger, now: opts.Now, share: opts.Share, keys: opts.Keys, prefetch: opts.Prefetch,
		mux: http.NewServeMux(), pending: map[string]bool{}, facts: map[string]*filterFacts{}}
	s.bg, s.stop = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.incidents)
	s.mux.HandleFunc("GET /incidents/{id}", s.incidentPage)
	s.mux.HandleFunc("GET /incidents/{id}/postmortem.md", s.postmortem)
	s.mux.HandleFunc("GET /incidents/{id}/traces", s.tracesPage)
	s.mux.HandleFunc("GET /incidents/{id}/traces/{trace}", s.tracePage)
	s.mux.HandleFunc("GET /incidents/{id}/logs", s.logsPage)
	s.mux.HandleFunc("GET /incidents/{id}/bundle", s.bundlePage)
	s.mux.HandleFunc("GET /incidents/{id}/bundle.tar", s.bundleTar)
	s.mux.Handle("GET /static/", s.static)
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
}

// ServeHTTP serves a page with the security headers every response has.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the evidence pages are read-only: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close stops the background analyses and waits for them.
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
}

// prefetchAll analyses, in the background, the first incidents of a list
// that are not analysed or being analysed already.
func (s *Server) prefetchAll(ids []string) {
	if s.prefetch {
		s.readAhead(ids[:min(len(ids), prefetched)])
	}
}

// readAhead analyses the incidents given in the background, one at a
// time, but those being analysed already.
func (s *Server) readAhead(ids []string) {
	for _, id := range ids {
		s.mu.Lock()
		busy := s.pending[id] || s.bg.Err() != nil
		if !busy {
			s.pending[id] = true
			s.wg.Add(1)
		}
		s.mu.Unlock()
		if busy {
			continue
		}
		go func() {
			defer s.wg.Done()
			if _, err := s.analyse(s.bg, id); err != nil && s.bg.Err() == nil {
				s.log.Debug("analysing an incident ahead failed", zap.String("incident", id), zap.Error(err))
			}
			s.mu.Lock()
			delete(s.pending, id)
			s.mu.Unlock()
		}()
	}
}

// analyse returns the incident's analysed evidence, from the cache while
// the evidence is unchanged.
func (s *Server) analyse(ctx context.Context, id string) (*analysed, error) {
	version, err := s.ev.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.analyseVersion(ctx, id, version)
}

// analyseVersion is analyse for the version of the evidence given.
func (s *Server) analyseVersion(ctx context.Context, id, version string) (*analysed, error) {
	if a := s.cached(id, version); a != nil {
		s.noteFacts(id, factsOf(version, a.tl))
		return a, nil
	}
	s.build.Lock()
	defer s.build.Unlock()
	if a := s.cached(id, version); a != nil {
		s.noteFacts(id, factsOf(version, a.tl))
		return a, nil
	}
	in, err := s.ev.Input(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := in.Incident
	tl, err := timeline.Build(in)
	if err != nil {
		if ctx.Err() == nil {
			s.noteFacts(id, &filterFacts{version: version, err: err})
		}
		return nil, err
	}
	s.noteFacts(id, factsOf(version, tl))
	a := &analysed{tl: tl, rec: rec}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache = append([]cached{{id, version, a}}, s.cache...)
	if len(s.cache) > cachedTimelines {
		s.cache = s.cache[:cachedTimelines]
	}
	return a, nil
}

// cachedCount is the number of analyses in the cache.
func (s *Server) cachedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cache)
}

func (s *Server) cached(id, version string) *analysed {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.cache {
		if c.id == id && c.version == version {
			copy(s.cache[1:i+1], s.cache[:i])
			s.cache[0] = c
			return c.a
		}
	}
	return nil
}

// fail answers with an error page: 404 for an incident the evidence does
// not hold, 500 for evidence that cannot be read.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	title := "The evidence could not be read"
	switch {
	case errors.Is(err, ErrNotFound):
		status, title = http.StatusNotFound, "No such incident"
	case errors.Is(err, context.Canceled):
		return
	}
	if status >= 500 {
		s.log.Warn("evidence page failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
	s.render(w, status, "error", errorPage{page: page{Title: title}, Message: err.Error()})
}

// render writes a page, or a plain 500 when the template fails.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("rendering a page failed", zap.String("page", name), zap.Error(err))
		http.Error(w, fmt.Sprintf("rendering the %s page failed", name), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// streamed is a page sent in parts: each part is written and flushed as
// soon as it is rendered. Once the first part is sent the status is
// 200: a later problem is shown in the page.
type streamed struct {
	s    *Server
	w    http.ResponseWriter
	tmpl *template.Template
	// failed is set once a part could not be rendered or written: no
	// more is sent.
	failed bool
}

// stream starts a streamed page with the templates given of tmpl.
func (s *Server) stream(w http.ResponseWriter, tmpl *template.Template, data any, templates ...string) *streamed {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	st := &streamed{s: s, w: w, tmpl: tmpl}
	st.write(data, templates...)
	return st
}

// write renders the templates given and sends them.
func (st *streamed) write(data any, templates ...string) {
	if st.failed {
		return
	}
	var buf bytes.Buffer
	for _, t := range templates {
		if err := st.tmpl.ExecuteTemplate(&buf, t, data); err != nil {
			st.s.log.Error("rendering a page failed", zap.String("page", st.tmpl.Name()), zap.String("part", t), zap.Error(err))
			st.failed = true
			return
		}
	}
	if _, err := st.w.Write(buf.Bytes()); err != nil {
		st.failed = true
		return
	}
	if err := http.NewResponseController(st.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		st.failed = true
	}
}
