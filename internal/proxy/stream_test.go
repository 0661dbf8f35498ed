package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestPassThroughStreams: on routes it does not watch the proxy neither
// buffers nor holds back: a streamed answer reaches the browser chunk by
// chunk while the shop is still writing, and a WebSocket upgrade becomes
// a two-way connection to the shop. On a watched route a client that
// sends its body slowly is waited for, and the shop gets the whole body.
func TestPassThroughStreams(t *testing.T) {
	release := make(chan struct{})
	var gotLogin url.Values
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events": // a stream: one chunk now, the next when released
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "data: second\n\n")
		case "/ws": // a WebSocket-shaped upgrade that echoes lines
			if r.Header.Get("Upgrade") != "websocket" {
				http.Error(w, "want an upgrade", http.StatusBadRequest)
				return
			}
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
			for {
				line, err := rw.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprint(rw, "echo "+line)
				rw.Flush()
			}
		case "/login":
			_ = r.ParseForm()
			gotLogin = r.PostForm
			http.Error(w, "login failed", http.StatusOK)
		}
	}))
	defer up.Close()
	_, srv := behind(t, plainConfig, up.URL, &fakeGuard{})

	t.Run("a stream is not buffered", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := make([]byte, len("data: first\n\n"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: first\n\n" {
			t.Fatalf("first chunk %q, %v (before the shop finished)", first, err)
		}
		close(release)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "data: second\n\n" {
			t.Errorf("rest %q", rest)
		}
	})

	t.Run("a WebSocket upgrade is a connection to the shop", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		for _, msg := range []string{"hello\n", "こんにちは\n"} {
			fmt.Fprint(conn, msg)
			if got, err := br.ReadString('\n'); err != nil || got != "echo "+msg {
				t.Errorf("echo %q, %v; want %q", got, err, "echo "+msg)
			}
		}
	})

	t.Run("a slow client on a watched route", func(t *testing.T) {
		body := url.Values{"email": {owner}, "password": {"slowly typed"}}.Encode()
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < len(body); i += 8 {
				_, _ = pw.Write([]byte(body[i:min(i+8, len(body))]))
				time.Sleep(20 * time.Millisecond)
			}
			_ = pw.Close()
		}()
		req, _ := http.NewRequest("POST", srv.URL+"/login", pr)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || gotLogin.Get("email") != owner || gotLogin.Get("password") != "slowly typed" {
			t.Errorf("slow login: %d, the shop got %v", resp.StatusCode, gotLogin)
		}
	})
}
