package login

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/understudy/understudy/test/gridlogin"
)

func TestCheckXML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"login", gridlogin.LoginRequest("Ada", "Lovelace", "secret"), true},
		{"no declaration", "<methodCall><methodName>x</methodName></methodCall>", true},
		{"white space and comments around", "\n <!-- hi --><a/>\n<!-- bye -->\n", true},
		{"byte order mark", "\ufeff<?xml version=\"1.0\"?><a/>", true},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>", true},
		{"unknown encoding", "<?xml version=\"1.0\" encoding=\"x-whatever\"?><a>\xff\xfe</a>", true},
		{"doctype", "<!DOCTYPE methodCall><methodCall/>", true},
		{"cdata", "<a><![CDATA[<not> & markup]]></a>", true},
		{"namespaces", `<x:a xmlns:x="urn:x"><x:b/></x:a>`, true},
		{"empty", "", false},
		{"only white space", "  \n", false},
		{"only a comment", "<!-- -->", false},
		{"not xml", "first=Ada&last=Lovelace", false},
		{"unclosed", "<methodCall><methodName>x</methodName>", false},
		{"mismatched", "<a><b></a></b>", false},
		{"mismatched prefix", `<x:a xmlns:x="urn:x" xmlns:y="urn:x"></y:a>`, false},
		{"two roots", "<a/><b/>", false},
		{"text after root", "<a/>trailing", false},
		{"text before root", "leading<a/>", false},
		{"bad entity", "<a>&lol;</a>", false},
		{"entity bomb", `<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>`, false},
		{"bad utf-8", "<a>\xff</a>", false},
		{"too deep", strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1), false},
		{"deep enough", strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</a>", maxXMLDepth), true},
	} {
		err := checkXML([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: checkXML = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errNotXML) {
			t.Errorf("%s: error %v does not wrap errNotXML", tc.name, err)
		}
	}
}

// FuzzCheckXML checks that what checkXML accepts also reads cleanly
// through encoding/xml's Token, which matches elements itself.
func FuzzCheckXML(f *testing.F) {
	for _, s := range []string{gridlogin.LoginRequest("a", "b", "c"), "<a><b></a></b>", "<a/><b/>", "<x:a xmlns:x='u'></x:a>", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkXML(body) != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(body))
		d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return &latin1Reader{r: in}, nil }
		for {
			_, err := d.Token()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("checkXML accepted %q, Token says %v", body, err)
			}
		}
	})
}

func TestLatin1Reader(t *testing.T) {
	t.Parallel()
	in := []byte("a\xe9\xff<")
	got, err := io.ReadAll(&latin1Reader{r: bytes.NewReader(in)})
	if err != nil || string(got) != "aéÿ<" {
		t.Fatalf("latin1Reader = %q, %v", got, err)
	}
}

func BenchmarkCheckXML(b *testing.B) {
	body := []byte(gridlogin.LoginRequest("Ada", "Lovelace", "secret"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkXML(body); err != nil {
			b.Fatal(err)
		}
	}
}
