// Package lint holds checks on TokTok's own source that no standard tool makes.
package lint

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// maxFuncLines is the longest a production function may be, from its func line to its
// closing brace. Past it a function usually does two things, and the second one hides.
const maxFuncLines = 80

// TestFunctionLength fails on any function of the module's production code (not tests,
// test-support packages or generated code) longer than maxFuncLines.
func TestFunctionLength(t *testing.T) {
	root := filepath.Join("..", "..")
	type long struct {
		where string
		lines int
	}
	var found []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Test-support packages (storetest, mongotest, testkit) are test code.
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" ||
				name == "node_modules" || name == "testkit" || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > maxFuncLines {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				found = append(found, long{rel + ":" + fn.Name.Name, n})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].lines > found[j].lines })
	var b bytes.Buffer
	for _, l := range found {
		b.WriteString("\n  " + l.where + ": " + strconv.Itoa(l.lines) + " lines")
	}
	if len(found) > 0 {
		t.Errorf("%d functions longer than %d lines:%s", len(found), maxFuncLines, b.String())
	}
}
