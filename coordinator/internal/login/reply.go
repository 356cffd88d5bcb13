package login

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
)

// writeError answers with a JSON body {"error": msg}, as the admin API
// does.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// unavailableBody is the XML-RPC answer given when no instance of a grid's
// login service took the request: a failed login a viewer shows as it
// shows any other, with %s standing for the grid's name.
const unavailableBody = `<?xml version="1.0"?><methodResponse><params><param><value><struct>` +
	`<member><name>login</name><value><string>false</string></value></member>` +
	`<member><name>reason</name><value><string>presence</string></value></member>` +
	`<member><name>message</name><value><string>The login service of grid %s is unavailable right now. Please try again in a minute.</string></value></member>` +
	`</struct></value></param></params></methodResponse>`

// writeUnavailable answers 502 with [unavailableBody].
func writeUnavailable(w http.ResponseWriter, grid string) {
	var name strings.Builder
	_ = xml.EscapeText(&name, []byte(grid))
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte(strings.Replace(unavailableBody, "%s", name.String(), 1)))
}
