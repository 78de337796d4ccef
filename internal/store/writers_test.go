package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The service layer (elb, autoscaling, certs) is the only writer of the
// store: the YAML file, the AWS API, the console and the controllers call
// it, so every rule is kept once and, in a cluster, every write can be
// fenced in one place. This test reads the module's code and fails on a
// write anywhere else.

// writers are the packages (directories under the module) that may write.
var writers = map[string]bool{
	"internal/store":       true,
	"internal/elb":         true,
	"internal/autoscaling": true,
	"internal/certs":       true,
}

// storeWrites returns the positions of store writes in a Go file: Put or
// Delete called on a variable of type store.Tx (Tx inside package store),
// and store.PutJSON.
func storeWrites(fset *token.FileSet, f *ast.File, inStore bool) []string {
	isTx := func(e ast.Expr) bool {
		switch t := e.(type) {
		case *ast.SelectorExpr:
			x, ok := t.X.(*ast.Ident)
			return ok && x.Name == "store" && t.Sel.Name == "Tx"
		case *ast.Ident:
			return inStore && t.Name == "Tx"
		}
		return false
	}
	txVars := map[*ast.Object]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		var fields *ast.FieldList
		switch n := n.(type) {
		case *ast.FuncType:
			fields = n.Params
		case *ast.ValueSpec:
			if n.Type != nil && isTx(n.Type) {
				for _, id := range n.Names {
					txVars[id.Obj] = true
				}
			}
		}
		if fields != nil {
			for _, fl := range fields.List {
				if isTx(fl.Type) {
					for _, id := range fl.Names {
						txVars[id.Obj] = true
					}
				}
			}
		}
		return true
	})
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch {
		case (sel.Sel.Name == "Put" || sel.Sel.Name == "Delete") && x.Obj != nil && txVars[x.Obj],
			x.Name == "store" && sel.Sel.Name == "PutJSON":
			out = append(out, fset.Position(call.Pos()).String()+": "+x.Name+"."+sel.Sel.Name)
		}
		return true
	})
	return out
}

func TestStoreWritesDetected(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"put on a transaction parameter", `package p
func f(tx store.Tx) error { return tx.Put("k", "a", nil) }`, 1},
		{"delete inside an update", `package p
func f(s store.Store) error { return s.Update(func(t store.Tx) error { return t.Delete("k", "a") }) }`, 1},
		{"PutJSON", `package p
func f(tx store.Tx) error { return store.PutJSON(tx, "k", "a", 1) }`, 1},
		{"a declared transaction variable", `package p
func f() { var tx store.Tx; tx.Put("k", "a", nil) }`, 1},
		{"reads only", `package p
func f(tx store.Tx) error { _, err := tx.Get("k", "a"); _, err = store.ListJSON[int](tx, "k"); return err }`, 0},
		{"a service call", `package p
func f(tx store.Tx) error { return elb.DeleteListener(tx, "arn") }`, 0},
		{"Delete on something else", `package p
func f(m map[string]int, c *http.Cookie) { delete(m, "a"); c.Delete("a") }`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := storeWrites(fset, f, false); len(got) != tt.want {
				t.Errorf("writes = %v, want %d", got, tt.want)
			}
		})
	}
}

func TestOnlyTheServiceLayerWritesTheStore(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	fset := token.NewFileSet()
	files := 0
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		if writers[rel] {
			return nil
		}
		bad = append(bad, storeWrites(fset, f, rel == "internal/store")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d Go files: not the module", files)
	}
	for _, b := range bad {
		t.Errorf("%s writes the store outside the service layer (elb, autoscaling, certs)", b)
	}
}
