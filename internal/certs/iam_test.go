package certs

import (
	"crypto/elliptic"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

var (
	idRe  = regexp.MustCompile(`^ASCA[A-Z0-9]{17}$`)
	arnRe = regexp.MustCompile(`^arn:aws:iam::\d{12}:server-certificate(/|/[\x21-\x7F]+/)[\w+=,.@-]{1,128}$`)
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// material is a certificate body and key.
type material struct{ body, key string }

func newMaterial(t *testing.T, cn string) material {
	t.Helper()
	k := ecKey(t, elliptic.P256())
	return material{selfSigned(t, k, cn, cn), sec1(t, k)}
}

func upload(s store.Store, name, path string, m material) (*model.Certificate, error) {
	var c *model.Certificate
	err := s.Update(func(tx store.Tx) error {
		var err error
		c, err = Upload(tx, name, path, m.body, m.key, "", []model.Tag{{Key: "env", Value: "test"}}, model.SourceAPI, testNow)
		return err
	})
	return c, err
}

func view[T any](t *testing.T, s store.Store, fn func(tx store.Tx) (T, error)) (T, error) {
	t.Helper()
	var v T
	err := s.View(func(tx store.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

func TestUpload(t *testing.T) {
	s := openStore(t)
	m := newMaterial(t, "web.example.com")
	c, err := upload(s, "web-cert", "", m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "/" {
		t.Errorf("path %q, want the default /", c.Path)
	}
	if want := "arn:aws:iam::" + model.Account + ":server-certificate/web-cert"; c.ARN != want {
		t.Errorf("ARN %q, want %q", c.ARN, want)
	}
	if !idRe.MatchString(c.ID) || !arnRe.MatchString(c.ARN) {
		t.Errorf("ID %q or ARN %q has the wrong shape", c.ID, c.ARN)
	}
	p, _ := Parse(m.body, m.key, "", testNow)
	if !c.Expiration.Equal(p.NotAfter) || !c.UploadDate.Equal(testNow) {
		t.Errorf("expiration %v upload date %v, want %v and %v", c.Expiration, c.UploadDate, p.NotAfter, testNow)
	}
	if c.PrivateKey != m.key || c.Body != m.body {
		t.Error("material not kept as given")
	}

	withPath, err := upload(s, "ProdServerCert", "/company/servercerts/", newMaterial(t, "prod.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:iam::" + model.Account + ":server-certificate/company/servercerts/ProdServerCert"; withPath.ARN != want || !arnRe.MatchString(withPath.ARN) {
		t.Errorf("ARN %q, want %q", withPath.ARN, want)
	}
	if withPath.ID == c.ID {
		t.Error("two certificates share an ID")
	}

	got, err := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "web-cert") })
	if err != nil || got.ARN != c.ARN || got.PrivateKey != m.key || len(got.Tags) != 1 {
		t.Fatalf("Get: %+v, %v", got, err)
	}
}

func TestUploadRejects(t *testing.T) {
	s := openStore(t)
	m := newMaterial(t, "a.example.com")
	if _, err := upload(s, "taken", "/", m); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cname, path string
		m                 material
		code              string
	}{
		{"empty name", "", "/", m, CodeValidation},
		{"space in name", "my cert", "/", m, CodeValidation},
		{"slash in name", "a/b", "/", m, CodeValidation},
		{"non-ASCII name", "café", "/", m, CodeValidation},
		{"name of 129 characters", strings.Repeat("a", 129), "/", m, CodeValidation},
		{"path without leading slash", "ok", "company/", m, CodeValidation},
		{"path without trailing slash", "ok", "/company", m, CodeValidation},
		{"path with a space", "ok", "/my company/", m, CodeValidation},
		{"duplicate name", "taken", "/", m, CodeAlreadyExists},
		{"duplicate name, other path", "taken", "/other/", m, CodeAlreadyExists},
		{"bad material", "ok", "/", material{m.body, newMaterial(t, "x").key}, CodeKeyPairMismatch},
		{"garbage", "ok", "/", material{"x", "y"}, CodeMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := upload(s, tc.cname, tc.path, tc.m)
			wantCode(t, err, tc.code)
		})
	}
	all, _ := view(t, s, func(tx store.Tx) ([]*model.Certificate, error) { return List(tx, "") })
	if len(all) != 1 {
		t.Errorf("%d certificates stored, want only the first one", len(all))
	}
	if _, err := upload(s, strings.Repeat("a", 128), "/", m); err != nil {
		t.Errorf("a 128-character name was refused: %v", err)
	}
	if _, err := upload(s, "w_+=,.@-9", "/a/b/", m); err != nil {
		t.Errorf("a name of every allowed symbol was refused: %v", err)
	}
}

func TestGetByARNAndList(t *testing.T) {
	s := openStore(t)
	for _, u := range []struct{ name, path string }{
		{"zeta", "/"}, {"alpha", "/company/servercerts/"}, {"mid", "/company/"}, {"beta", "/other/"},
	} {
		if _, err := upload(s, u.name, u.path, newMaterial(t, u.name+".example.com")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "nope") })
	wantCode(t, err, CodeNoSuchEntity)

	arn := ARN("/company/", "mid")
	c, err := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return ByARN(tx, arn) })
	if err != nil || c.Name != "mid" {
		t.Fatalf("ByARN: %+v %v", c, err)
	}
	_, err = view(t, s, func(tx store.Tx) (*model.Certificate, error) { return ByARN(tx, ARN("/", "mid")) })
	wantCode(t, err, CodeNotFound)

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"alpha", "beta", "mid", "zeta"}},
		{"/", []string{"alpha", "beta", "mid", "zeta"}},
		{"/company/", []string{"alpha", "mid"}},
		{"/company/servercerts", []string{"alpha"}},
		{"/nothing/", nil},
	} {
		cs, err := view(t, s, func(tx store.Tx) ([]*model.Certificate, error) { return List(tx, tc.prefix) })
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, names, tc.want)
		}
	}
	_, err = view(t, s, func(tx store.Tx) ([]*model.Certificate, error) { return List(tx, "company") })
	wantCode(t, err, CodeValidation)
}

func TestUpdate(t *testing.T) {
	s := openStore(t)
	orig, err := upload(s, "old", "/", newMaterial(t, "a.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upload(s, "other", "/", newMaterial(t, "b.example.com")); err != nil {
		t.Fatal(err)
	}
	update := func(name, newName, newPath string) (*model.Certificate, error) {
		var c *model.Certificate
		err := s.Update(func(tx store.Tx) error {
			var err error
			c, err = Update(tx, name, newName, newPath)
			return err
		})
		return c, err
	}

	c, err := update("old", "new", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "new" || c.Path != "/" || c.ARN != ARN("/", "new") || c.ID != orig.ID || c.PrivateKey != orig.PrivateKey {
		t.Errorf("renamed: %+v", Redacted(c))
	}
	_, err = view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "old") })
	wantCode(t, err, CodeNoSuchEntity)

	c, err = update("new", "", "/moved/here/")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "new" || c.ARN != "arn:aws:iam::"+model.Account+":server-certificate/moved/here/new" {
		t.Errorf("moved: %+v", Redacted(c))
	}
	got, _ := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return ByARN(tx, c.ARN) })
	if got == nil || got.Name != "new" {
		t.Errorf("ByARN of the new ARN: %+v", got)
	}

	for _, tc := range []struct {
		name, from, newName, newPath, code string
	}{
		{"rename onto another", "new", "other", "", CodeAlreadyExists},
		{"missing", "ghost", "x", "", CodeNoSuchEntity},
		{"bad new name", "new", "a b", "", CodeValidation},
		{"bad new path", "new", "", "nope", CodeValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update(tc.from, tc.newName, tc.newPath)
			wantCode(t, err, tc.code)
		})
	}
	all, _ := view(t, s, func(tx store.Tx) ([]*model.Certificate, error) { return List(tx, "/") })
	if len(all) != 2 {
		t.Errorf("%d certificates after the failed updates, want 2", len(all))
	}
}

func TestDelete(t *testing.T) {
	s := openStore(t)
	c, err := upload(s, "web", "/", newMaterial(t, "a.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	del := func(name string, inUse func(string) bool) error {
		return s.Update(func(tx store.Tx) error { return Delete(tx, name, inUse) })
	}
	var asked string
	err = del("web", func(arn string) bool { asked = arn; return true })
	me := wantCode(t, err, CodeDeleteConflict)
	if asked != c.ARN || !strings.Contains(me.Message, "web") {
		t.Errorf("inUse asked about %q; message %q", asked, me.Message)
	}
	if _, err := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "web") }); err != nil {
		t.Fatalf("certificate gone after a refused delete: %v", err)
	}
	if err := del("web", func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	_, err = view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "web") })
	wantCode(t, err, CodeNoSuchEntity)
	wantCode(t, del("web", nil), CodeNoSuchEntity)
}

func TestReplace(t *testing.T) {
	s := openStore(t)
	orig, err := upload(s, "web", "/", newMaterial(t, "old.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	replace := func(name string, m material) (*model.Certificate, error) {
		var c *model.Certificate
		err := s.Update(func(tx store.Tx) error {
			var err error
			c, err = Replace(tx, name, m.body, m.key, "", testNow.Add(time.Hour))
			return err
		})
		return c, err
	}
	m := newMaterial(t, "new.example.com")
	c, err := replace("web", m)
	if err != nil {
		t.Fatal(err)
	}
	if c.ARN != orig.ARN || c.ID != orig.ID || c.Name != "web" {
		t.Errorf("identity changed: %+v", Redacted(c))
	}
	got, _ := view(t, s, func(tx store.Tx) (*model.Certificate, error) { return ByARN(tx, orig.ARN) })
	if got.Body != m.body || got.PrivateKey != m.key || !got.UploadDate.After(orig.UploadDate) {
		t.Error("the stored record does not hold the new material")
	}
	p, _ := Parse(got.Body, got.PrivateKey, got.Chain, testNow)
	if !slices.Equal(p.Names, []string{"new.example.com"}) {
		t.Errorf("names after rotation %q", p.Names)
	}

	_, err = replace("web", material{m.body, newMaterial(t, "x").key})
	wantCode(t, err, CodeKeyPairMismatch)
	got, _ = view(t, s, func(tx store.Tx) (*model.Certificate, error) { return Get(tx, "web") })
	if got.Body != m.body {
		t.Error("a refused rotation changed the certificate")
	}
	_, err = replace("ghost", m)
	wantCode(t, err, CodeNoSuchEntity)
}

func TestRedacted(t *testing.T) {
	c := &model.Certificate{Name: "web", Body: "body", PrivateKey: "secret", Tags: []model.Tag{{Key: "k", Value: "v"}}}
	r := Redacted(c)
	if r.PrivateKey != "" || r.Body != "body" || r.Name != "web" {
		t.Errorf("Redacted: %+v", r)
	}
	r.Tags[0].Value = "changed"
	if c.PrivateKey != "secret" || c.Tags[0].Value != "v" {
		t.Error("Redacted changed the original")
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !idRe.MatchString(id) || seen[id] {
			t.Fatalf("ID %q is malformed or repeated", id)
		}
		seen[id] = true
	}
}
