package mfa

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

const svgNS = "http://www.w3.org/2000/svg"

// svgDoc is what QRCodeSVG must produce: an svg root with one rect and one path.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	ViewBox string   `xml:"viewBox,attr"`
	Shape   string   `xml:"shape-rendering,attr"`
	Rects   []struct {
		X      string `xml:"x,attr"`
		Y      string `xml:"y,attr"`
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

func TestQRCodeSVG(t *testing.T) {
	contents := []string{
		"a",
		OTPAuthURI("TokTok", "alice@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
		OTPAuthURI("Tok <Tok> & \"Co\"", "o'brien+x@example.com", rfcSecret),
		strings.Repeat("0123456789abcdef", 40),
	}
	for _, content := range contents {
		svg, err := QRCodeSVG(content)
		if err != nil {
			t.Fatalf("QRCodeSVG(%q): %v", content, err)
		}
		checkSafeSVG(t, svg)
		got := svgModules(t, svg)

		q, err := qrcode.New(content, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		want := q.Bitmap() // go-qrcode's own bitmap, with its quiet zone of 4
		if len(got) != len(want) {
			t.Fatalf("content %q: SVG is %d modules wide, go-qrcode's bitmap %d", content, len(got), len(want))
		}
		for y := range want {
			for x := range want[y] {
				if got[y][x] != want[y][x] {
					t.Fatalf("content %q: module (%d,%d) is %v in the SVG, %v in the bitmap",
						content, x, y, got[y][x], want[y][x])
				}
			}
		}
		for i := 0; i < len(got); i++ { // the quiet zone is blank
			for j := 0; j < quietZone; j++ {
				if got[i][j] || got[j][i] || got[i][len(got)-1-j] || got[len(got)-1-j][i] {
					t.Fatalf("content %q: a dark module in the quiet zone near (%d,%d)", content, i, j)
				}
			}
		}
	}
}

func TestQRCodeSVGTooLong(t *testing.T) {
	if _, err := QRCodeSVG(strings.Repeat("x", 5000)); err == nil {
		t.Error("QRCodeSVG of 5000 bytes gave no error")
	}
}

// checkSafeSVG checks that svg is one well-formed XML element in the SVG namespace with
// nothing that could run or fetch: no script, no href of any kind, no URL but the
// namespace, no style, no event handler.
func checkSafeSVG(t *testing.T, svg string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if e.Name.Space != svgNS {
				t.Errorf("element %v is not in the SVG namespace", e.Name)
			}
			if e.Name.Local != "svg" && e.Name.Local != "rect" && e.Name.Local != "path" {
				t.Errorf("unexpected element <%s>", e.Name.Local)
			}
			for _, a := range e.Attr {
				n := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(n, "on") || n == "style" || strings.Contains(n, "href") {
					t.Errorf("attribute %s=%q", a.Name.Local, a.Value)
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if strings.TrimSpace(string(e)) != "" {
				t.Errorf("text %q in the SVG", e)
			}
		case xml.ProcInst, xml.Directive, xml.Comment:
			t.Errorf("unexpected %T in the SVG", e)
		}
	}
	if roots != 1 {
		t.Errorf("%d root elements", roots)
	}
	rest := strings.Replace(strings.ToLower(svg), `xmlns="`+svgNS+`"`, "", 1)
	for _, bad := range []string{"script", "href", "http", "url(", "style", "<!", "<?"} {
		if strings.Contains(rest, bad) {
			t.Errorf("SVG contains %q", bad)
		}
	}
}

var pathRun = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// svgModules decodes the SVG back into a module matrix: the viewBox gives its size, the
// rect must paint it all white, and every rectangle of the path marks modules dark. Any
// path command other than the unit-high runs QRCodeSVG draws fails the test, as does a
// module painted twice.
func svgModules(t *testing.T, svg string) [][]bool {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("xml.Unmarshal: %v", err)
	}
	var size int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &size, new(int)); err != nil ||
		doc.ViewBox != fmt.Sprintf("0 0 %d %d", size, size) {
		t.Fatalf("viewBox %q is not a square from the origin", doc.ViewBox)
	}
	if doc.Shape != "crispEdges" {
		t.Errorf("shape-rendering = %q", doc.Shape)
	}
	n := strconv.Itoa(size)
	if len(doc.Rects) != 1 || doc.Rects[0].Width != n || doc.Rects[0].Height != n ||
		doc.Rects[0].X+doc.Rects[0].Y != "" || doc.Rects[0].Fill != "#fff" {
		t.Fatalf("background rects %+v, want one white %s×%s at the origin", doc.Rects, n, n)
	}
	if len(doc.Paths) != 1 || doc.Paths[0].Fill != "#000" {
		t.Fatalf("paths %+v, want one black path", doc.Paths)
	}
	m := make([][]bool, size)
	for i := range m {
		m[i] = make([]bool, size)
	}
	d := doc.Paths[0].D
	for d != "" {
		g := pathRun.FindStringSubmatch(d)
		if g == nil {
			t.Fatalf("unexpected path data at %.40q", d)
		}
		d = d[len(g[0]):]
		x, _ := strconv.Atoi(g[1])
		y, _ := strconv.Atoi(g[2])
		w, _ := strconv.Atoi(g[3])
		if g[3] != g[4] || w == 0 || y >= size || x+w > size {
			t.Fatalf("bad run %q in a %d-module square", g[0], size)
		}
		for i := x; i < x+w; i++ {
			if m[y][i] {
				t.Fatalf("module (%d,%d) drawn twice", i, y)
			}
			m[y][i] = true
		}
	}
	return m
}
