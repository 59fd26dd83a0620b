package web

import "net/http"

// AdminConsole returns the handler of the admin console.
func AdminConsole(opts ConsoleOptions) (http.Handler, error) {
	return newConsole(consoleSpec{Name: "admin", Path: AdminConsolePath}, opts)
}
