package serve

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var web embed.FS

// pageHandler serves the web page and its scripts.
func pageHandler() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}
