package login

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// errNotXML reports a request body that is not a well-formed XML document.
var errNotXML = errors.New("request body is not well-formed XML")

// maxXMLDepth bounds element nesting in a request body, as encoding/xml
// bounds it when unmarshalling.
const maxXMLDepth = 10000

// checkXML reports whether body is one well-formed XML document: properly
// nested elements under exactly one root, with nothing but white space,
// comments and processing instructions around it. It only reads the body.
//
// Whatever encoding the document declares, its bytes are read one byte per
// character: the markup XML-RPC uses is ASCII in every encoding a login
// service accepts, and the text in between is the upstream's to decode.
// encoding/xml expands no entities beyond the predefined five, and nesting
// is bounded, so a hostile body costs time and memory linear in its size.
func checkXML(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return &latin1Reader{r: in}, nil }
	var open []xml.Name // elements not yet closed
	roots := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errNotXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(open) == 0 {
				roots++
				if roots > 1 {
					return fmt.Errorf("%w: a second root element <%s>", errNotXML, t.Name.Local)
				}
			}
			if len(open) == maxXMLDepth {
				return fmt.Errorf("%w: elements nested deeper than %d", errNotXML, maxXMLDepth)
			}
			open = append(open, t.Name)
		case xml.EndElement:
			// RawToken leaves matching to the caller.
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return fmt.Errorf("%w: unexpected </%s>", errNotXML, t.Name.Local)
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) == 0 && len(bytes.TrimLeft(bytes.TrimSpace(t), "\ufeff")) > 0 {
				return fmt.Errorf("%w: text outside the root element", errNotXML)
			}
		case xml.Directive:
			if len(open) > 0 || roots > 0 {
				return fmt.Errorf("%w: a declaration after the root element started", errNotXML)
			}
		}
	}
	switch {
	case roots == 0:
		return fmt.Errorf("%w: no root element", errNotXML)
	case len(open) != 0:
		return fmt.Errorf("%w: unclosed element", errNotXML)
	}
	return nil
}

// latin1Reader turns each byte into one character, so that a document in
// any single-byte encoding reads as valid UTF-8.
type latin1Reader struct {
	r   io.Reader
	buf [512]byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) < utf8.UTFMax {
		return 0, io.ErrShortBuffer
	}
	n, err := l.r.Read(l.buf[:min(len(l.buf), len(p)/2)])
	out := 0
	for _, b := range l.buf[:n] {
		out += utf8.EncodeRune(p[out:], rune(b))
	}
	return out, err
}
