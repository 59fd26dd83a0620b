package mfa

import (
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// quietZone is the blank margin around the QR symbol, in modules: the 4 that ISO/IEC
// 18004 requires for a reliable scan.
const quietZone = 4

// QRCodeSVG returns content as a QR code (recovery level Medium) drawn as a standalone
// SVG document: a white background rect and one black path of the dark modules, in a
// viewBox one unit per module with a quiet zone of 4 modules, crisp edges and no size of
// its own (the page sizes it). It holds no script, link, style or external reference,
// only presentation attributes, so it can be inlined in a page under a strict
// Content-Security-Policy or used as a data: URL in an <img>.
func QRCodeSVG(content string) (string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	size := len(bm) + 2*quietZone
	n := strconv.Itoa(size)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + ` ` + n +
		`" shape-rendering="crispEdges">`)
	b.WriteString(`<rect width="` + n + `" height="` + n + `" fill="#fff"/>`)
	b.WriteString(`<path fill="#000" d="`)
	writeModules(&b, bm)
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// writeModules writes the path data of the dark modules of bm: one rectangle per
// horizontal run, "M{x} {y}h{run}v1h-{run}z", offset by the quiet zone.
func writeModules(b *strings.Builder, bm [][]bool) {
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			r := strconv.Itoa(run)
			b.WriteString("M" + strconv.Itoa(x+quietZone) + " " + strconv.Itoa(y+quietZone) +
				"h" + r + "v1h-" + r + "z")
			x += run
		}
	}
}
