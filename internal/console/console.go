// Package console is Alba's web console on the admin address: pages for
// load balancers, target groups, auto scaling groups, launch templates and
// certificates, forms for the tutorial's steps, a live timeline of traffic,
// health and scaling, and a load test. It is a front, as the YAML file and
// the AWS API are: it reads the store and the metrics history and changes
// resources only through the service layer (elb, autoscaling, certs). Every
// asset is embedded in the binary.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alba-lb/alba/internal/clock"
	"github.com/alba-lb/alba/internal/metrics"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

//go:embed web
var web embed.FS

// Options configure a console.
type Options struct {
	// Store holds the resources the pages show and the forms change.
	Store store.Store
	// History is the metrics history the timeline reads.
	History *metrics.History
	// TargetHealth reports a registered target's health, as the AWS API's
	// DescribeTargetHealth does; nil shows every target as unknown.
	TargetHealth func(groupARN, id string, port int) (model.TargetHealth, bool)
	// Markers are the target health transitions the timeline marks (the
	// activities it reads from the store); nil keeps none.
	Markers *Markers
	// AccessKeyID and SecretAccessKey, when set, are what the console asks
	// for before it shows anything (the AWS API's credentials).
	AccessKeyID, SecretAccessKey string
	// ScaleOutWindow is how long target tracking averages before scaling
	// out, shown beside the policies.
	ScaleOutWindow time.Duration
	// Clock is the time the pages and the timeline read; nil is real time.
	Clock clock.Clock
	// Logger receives what went wrong serving a page.
	Logger *slog.Logger
}

// Console serves the console's pages, assets and streams.
type Console struct {
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
	// sessionKey signs the login cookie: a new one each run, so a restart
	// asks for the credentials again.
	sessionKey []byte

	mu    sync.Mutex
	tests map[string]*loadRun // console load tests by id
}

// New returns the console for opts.
func New(opts Options) *Console {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Markers == nil {
		opts.Markers = NewMarkers(0)
	}
	c := &Console{opts: opts, pages: parsePages(), sessionKey: randomKey(), tests: map[string]*loadRun{}}
	c.routes()
	return c
}

// ServeHTTP serves the console, asking for credentials first when they are
// configured.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "same-origin")
	if !c.authorized(r) && r.URL.Path != "/login" && r.URL.Path != "/console/static/console.css" {
		if r.Method == http.MethodGet && !isStream(r) {
			http.Redirect(w, r, "/login?next="+pathEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Error(w, "sign in to the console first", http.StatusUnauthorized)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// isStream reports whether r asks for data rather than a page: the
// timeline's JSON, its event stream and a load test's state. Those answer
// 401 without a session, since a script cannot follow a redirect to the
// sign-in page (it would get HTML where it expects JSON).
func isStream(r *http.Request) bool {
	p := r.URL.Path
	return r.Header.Get("Accept") == "text/event-stream" || p == "/console/timeline" || p == "/console/live" ||
		strings.HasPrefix(p, "/console/loadtest/") && strings.HasSuffix(p, "/state")
}

// Mount registers the console's routes on mux (the admin address's), each
// under its own pattern so the AWS API keeps POST /.
func (c *Console) Mount(mux *http.ServeMux) {
	for _, p := range c.patterns() {
		mux.Handle(p, c)
	}
}

func (c *Console) routes() {
	c.mux = http.NewServeMux()
	static, _ := fs.Sub(web, "web/static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
	c.mux.HandleFunc("GET /{$}", c.overview)
	c.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, formError("NotFound", "There is no page at "+model.Quote(r.URL.Path)))
	})
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.logout)
	c.mux.HandleFunc("GET /load-balancers", show(c.loadBalancersPage))
	c.mux.HandleFunc("GET /load-balancers/{name}", show(c.loadBalancerPage))
	c.mux.HandleFunc("GET /target-groups", show(c.targetGroupsPage))
	c.mux.HandleFunc("GET /target-groups/{name}", show(c.targetGroupPage))
	c.mux.HandleFunc("GET /auto-scaling-groups", show(c.groupsPage))
	c.mux.HandleFunc("GET /auto-scaling-groups/{name}", show(c.groupPage))
	c.mux.HandleFunc("GET /launch-templates", show(c.templatesPage))
	c.mux.HandleFunc("GET /launch-templates/{name}", c.template)
	c.mux.HandleFunc("GET /certificates", show(c.certificatesPage))
	c.mux.HandleFunc("GET /console/timeline", c.timeline)
	c.mux.HandleFunc("GET /console/live", c.live)
	c.formRoutes()
	c.loadTestRoutes()
}

// patterns are what Mount registers: the pages for GET, the console's
// forms under /console/ and sign-in for POST (the console's own mux
// refines them; POST / stays the AWS API's).
func (c *Console) patterns() []string {
	var out []string
	for _, p := range []string{"/", "/login", "/load-balancers", "/load-balancers/", "/target-groups", "/target-groups/",
		"/auto-scaling-groups", "/auto-scaling-groups/", "/launch-templates", "/launch-templates/", "/certificates", "/console/"} {
		out = append(out, "GET "+p)
	}
	return append(out, "POST /login", "POST /logout", "POST /console/")
}

// show serves a page that forms also render, with their errors.
func show(fn func(w http.ResponseWriter, r *http.Request, status int, p page)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { fn(w, r, http.StatusOK, page{}) }
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets: the page's own data and the layout's.
type page struct {
	Title string
	Nav   string
	// CSRF is the token every form posts back.
	CSRF string
	// SignedIn is true when the console asked for credentials and got them.
	SignedIn bool
	Data     any
	// Error is a form's or the page's error, AWS's code and message.
	Error *model.Error
	// Field names the form field the error is about.
	Field string
	// Form is what a form posted, to show again beside its error.
	Form map[string]string
	// Notice is a line saying what the last form did.
	Notice string
}

// render writes the named page inside the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := c.pages[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	p.CSRF = c.csrfToken(w, r)
	// Signed in, not merely asked to: the sign-in page offers no sign-out.
	p.SignedIn = c.opts.AccessKeyID != "" && c.authorized(r)
	if p.Notice == "" {
		p.Notice = r.URL.Query().Get("notice")
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		c.opts.Logger.Error("console: rendering "+name, "err", err)
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// view runs fn in a read transaction, answering 500 (503 when the store is
// out of reach) when it fails.
func (c *Console) view(w http.ResponseWriter, fn func(tx store.Tx) error) bool {
	if err := c.opts.Store.View(fn); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), status)
		return false
	}
	return true
}
