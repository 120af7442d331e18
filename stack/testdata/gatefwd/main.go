// Command gatefwd stands in for the federation gate in the stack's tests. It
// takes the flags the stack appends to Options.GateArgs, serves TLS on
// --listen with --tls-cert and --tls-key, and forwards every request to
// --upstream (whose self-signed certificate it does not check), logging one
// line per request so that tests can see the traffic went through it.
package main

import (
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	label := flag.String("label", "gatefwd", "prefix of every log line")
	listen := flag.String("listen", "", "address to serve on")
	upstream := flag.String("upstream", "", "URL to forward to")
	cert := flag.String("tls-cert", "", "certificate file")
	key := flag.String("tls-key", "", "key file")
	serverName := flag.String("server-name", "", "the Matrix server name behind the gate")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || *listen == "" || *cert == "" || *key == "" || *serverName == "" {
		log.Fatalf("usage: gatefwd --listen ADDR --upstream URL --tls-cert FILE --tls-key FILE --server-name NAME (upstream: %v)", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	log.Printf("%s: gate for %s on %s, forwarding to %s", *label, *serverName, *listen, target)
	err = http.ListenAndServeTLS(*listen, *cert, *key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s: %s %s", *label, r.Method, r.URL.Path)
		proxy.ServeHTTP(w, r)
	}))
	log.Fatal(err)
}
