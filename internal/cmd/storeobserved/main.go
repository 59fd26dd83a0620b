// Command storeobserved writes store/observed/observed_gen.go: for every method of
// store.Store (and of the optional store.SessionUserStore), a method of the observed
// decorator that tells its Observer of the call (Begin, with the call's context and name)
// and of its end (the function Begin returned, with the call's error).
// Run by go generate in store/observed; CI regenerates and diffs, so the decorator always
// has the interface's full method set.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("store", "..", "directory of package store")
	out := flag.String("out", "observed_gen.go", "file to write")
	flag.Parse()
	src, err := generate(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// pkg is package store as the generator reads it.
type pkg struct {
	fset    *token.FileSet
	ifaces  map[string]*ast.InterfaceType
	types   map[string]bool   // every type the package declares
	imports map[string]string // import name -> path, from the package's files
}

func load(dir string) (*pkg, error) {
	p := &pkg{fset: token.NewFileSet(), ifaces: map[string]*ast.InterfaceType{}, types: map[string]bool{}, imports: map[string]string{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, name, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			p.imports[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				p.types[ts.Name.Name] = true
				if it, ok := ts.Type.(*ast.InterfaceType); ok {
					p.ifaces[ts.Name.Name] = it
				}
			}
			return true
		})
	}
	return p, nil
}

// method is one interface method: its name and signature.
type method struct {
	name string
	sig  *ast.FuncType
}

// methods lists iface's methods, those of the interfaces it embeds included, by name.
func (p *pkg) methods(iface string) ([]method, error) {
	it, ok := p.ifaces[iface]
	if !ok {
		return nil, fmt.Errorf("no interface %s in package store", iface)
	}
	var out []method
	for _, f := range it.Methods.List {
		switch t := f.Type.(type) {
		case *ast.FuncType:
			for _, n := range f.Names {
				out = append(out, method{n.Name, t})
			}
		case *ast.Ident:
			embedded, err := p.methods(t.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, embedded...)
		default:
			return nil, fmt.Errorf("%s: cannot expand %T", iface, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// typeString prints a type expression of package store as code outside it: the package's
// own types qualified with "store.", and notes the packages it uses in used.
func (p *pkg) typeString(e ast.Expr, used map[string]bool) string {
	e = qualify(e, p.types, used)
	var b bytes.Buffer
	_ = printer.Fprint(&b, p.fset, e)
	return b.String()
}

// qualify returns a copy of e with the store package's own type names qualified; it
// records in used the packages e names.
func qualify(e ast.Expr, types map[string]bool, used map[string]bool) ast.Expr {
	switch t := e.(type) {
	case *ast.Ident:
		if types[t.Name] {
			used["store"] = true
			return &ast.SelectorExpr{X: ast.NewIdent("store"), Sel: ast.NewIdent(t.Name)}
		}
		return t
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok {
			used[x.Name] = true
		}
		return t
	case *ast.StarExpr:
		return &ast.StarExpr{X: qualify(t.X, types, used)}
	case *ast.ArrayType:
		return &ast.ArrayType{Len: t.Len, Elt: qualify(t.Elt, types, used)}
	case *ast.MapType:
		return &ast.MapType{Key: qualify(t.Key, types, used), Value: qualify(t.Value, types, used)}
	case *ast.Ellipsis:
		return &ast.Ellipsis{Elt: qualify(t.Elt, types, used)}
	default:
		return e
	}
}

// write appends the decorator method of m on receiver type recv to b.
func (p *pkg) write(b *bytes.Buffer, recv string, m method, used map[string]bool) {
	var params, args []string
	i := 0
	for _, f := range m.sig.Params.List {
		typ := p.typeString(f.Type, used)
		names := f.Names
		if len(names) == 0 {
			names = []*ast.Ident{nil}
		}
		for _, n := range names {
			name := fmt.Sprintf("p%d", i)
			if n != nil && n.Name != "_" {
				name = n.Name
			}
			i++
			params = append(params, name+" "+typ)
			if _, variadic := f.Type.(*ast.Ellipsis); variadic {
				name += "..."
			}
			args = append(args, name)
		}
	}
	var results, rets []string
	if m.sig.Results != nil {
		for _, f := range m.sig.Results.List {
			typ := p.typeString(f.Type, used)
			for range max(len(f.Names), 1) {
				results = append(results, typ)
			}
		}
	}
	errLast := len(results) > 0 && results[len(results)-1] == "error"
	for j := range results {
		rets = append(rets, fmt.Sprintf("r%d", j))
	}
	if errLast {
		rets[len(rets)-1] = "err"
	}
	fmt.Fprintf(b, "\n// %s calls the store's %s and observes it.\n", m.name, m.name)
	fmt.Fprintf(b, "func (o %s) %s(%s) (%s) {\n", recv, m.name, strings.Join(params, ", "), strings.Join(results, ", "))
	ctx := "context.Background()"
	if len(params) > 0 && strings.HasSuffix(params[0], " context.Context") {
		ctx = args[0]
		fmt.Fprintf(b, "\t%s, done := o.obs.Begin(%s, %q)\n", ctx, ctx, m.name)
	} else {
		used["context"] = true
		fmt.Fprintf(b, "\t_, done := o.obs.Begin(%s, %q)\n", ctx, m.name)
	}
	call := fmt.Sprintf("o.%s.%s(%s)", recvField(recv), m.name, strings.Join(args, ", "))
	if len(rets) > 0 {
		fmt.Fprintf(b, "\t%s := %s\n", strings.Join(rets, ", "), call)
	} else {
		fmt.Fprintf(b, "\t%s\n", call)
	}
	errArg := "nil"
	if errLast {
		errArg = "err"
	}
	fmt.Fprintf(b, "\tdone(%s)\n", errArg)
	if len(rets) > 0 {
		fmt.Fprintf(b, "\treturn %s\n", strings.Join(rets, ", "))
	}
	b.WriteString("}\n")
}

// recvField is the field of receiver recv that holds the wrapped store.
func recvField(recv string) string {
	if recv == "sessionUser" {
		return "su"
	}
	return "s"
}

func generate(dir string) ([]byte, error) {
	p, err := load(dir)
	if err != nil {
		return nil, err
	}
	base, err := p.methods("Store")
	if err != nil {
		return nil, err
	}
	extra, err := p.methods("SessionUserStore")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	var body bytes.Buffer
	for _, m := range base {
		p.write(&body, "*Store", m, used)
	}
	for _, m := range extra {
		p.write(&body, "sessionUser", m, used)
	}
	p.imports["context"] = "context"
	var paths []string
	for name := range used {
		path, ok := p.imports[name]
		if name == "store" {
			path, ok = "github.com/toktok/toktok/store", true
		}
		if !ok {
			return nil, fmt.Errorf("package %s used in a signature is not imported by package store", name)
		}
		paths = append(paths, strconv.Quote(path))
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/cmd/storeobserved; DO NOT EDIT.\n\npackage observed\n\nimport (\n")
	for _, path := range paths { // the standard library first, then ours
		if !strings.Contains(path, ".") {
			b.WriteString("\t" + path + "\n")
		}
	}
	b.WriteString("\n")
	for _, path := range paths {
		if strings.Contains(path, ".") {
			b.WriteString("\t" + path + "\n")
		}
	}
	b.WriteString(")\n")
	b.Write(body.Bytes())
	return format.Source(b.Bytes())
}
