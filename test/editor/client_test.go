package editor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Position, Range and Diagnostic are the LSP types of the same names.
type Position struct {
	Line      int `json:"line"`
	Character int `json:"character"`
}

type Range struct {
	Start Position `json:"start"`
	End   Position `json:"end"`
}

type Diagnostic struct {
	Range    Range           `json:"range"`
	Severity int             `json:"severity,omitempty"`
	Code     json.RawMessage `json:"code,omitempty"`
	Source   string          `json:"source,omitempty"`
	Message  string          `json:"message"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%d:%d-%d:%d %s", d.Range.Start.Line, d.Range.Start.Character,
		d.Range.End.Line, d.Range.End.Character, d.Message)
}

// message is any JSON-RPC 2.0 message: request, response or notification.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("LSP error %d: %s", e.Code, e.Message) }

// published is the latest textDocument/publishDiagnostics of one document.
type published struct {
	count       int // publications since the document was last opened
	last        time.Time
	diagnostics []Diagnostic
}

// Server is a running language server and the client end of its stdio.
type Server struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	// settings answers workspace/configuration requests, by section.
	settings map[string]any

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  int
	version int // of the last document opened
	pending map[string]chan message
	diags   map[string]*published // by document path
	changed chan struct{}         // closed and replaced on every publication
	done    chan struct{}         // closed when stdout ends
	readErr error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartServer starts `node <script> --stdio` in dir with env added to the
// environment. settings are what workspace/configuration returns per section.
func StartServer(dir, script string, env []string, settings map[string]any) (*Server, error) {
	cmd := exec.Command("node", script, "--stdio")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cmd:      cmd,
		stdin:    stdin,
		stderr:   &lockedBuffer{},
		settings: settings,
		pending:  map[string]chan message{},
		diags:    map[string]*published{},
		changed:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go s.readLoop(bufio.NewReader(stdout))
	return s, nil
}

// Stderr is what the server wrote to its standard error so far.
func (s *Server) Stderr() string { return s.stderr.String() }

func (s *Server) readLoop(r *bufio.Reader) {
	var err error
	defer func() {
		s.mu.Lock()
		s.readErr = err
		for _, ch := range s.pending {
			close(ch)
		}
		s.pending = map[string]chan message{}
		s.mu.Unlock()
		close(s.done)
	}()
	for {
		var body []byte
		body, err = readFrame(r)
		if err != nil {
			return
		}
		var m message
		if err = json.Unmarshal(body, &m); err != nil {
			err = fmt.Errorf("decoding %q: %w", body, err)
			return
		}
		switch {
		case m.Method != "" && len(m.ID) > 0:
			go s.answer(m)
		case m.Method != "":
			s.notification(m)
		default:
			s.mu.Lock()
			ch := s.pending[string(m.ID)]
			delete(s.pending, string(m.ID))
			s.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// readFrame reads one message: headers, an empty line, Content-Length bytes.
func readFrame(r *bufio.Reader) ([]byte, error) {
	length := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			length, err = strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return nil, errors.New("message without Content-Length")
	}
	body := make([]byte, length)
	_, err := io.ReadFull(r, body)
	return body, err
}

func (s *Server) write(m any) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := fmt.Fprintf(s.stdin, "Content-Length: %d\r\n\r\n", len(body)); err != nil {
		return err
	}
	_, err = s.stdin.Write(body)
	return err
}

// answer replies to a request from the server.
func (s *Server) answer(m message) {
	var result any
	switch m.Method {
	case "workspace/configuration":
		var params struct {
			Items []struct {
				Section string `json:"section"`
			} `json:"items"`
		}
		_ = json.Unmarshal(m.Params, &params)
		out := make([]any, len(params.Items))
		for i, item := range params.Items {
			if v, ok := s.settings[item.Section]; ok {
				out[i] = v
			} else {
				out[i] = map[string]any{}
			}
		}
		result = out
	default:
		// client/registerCapability, window/workDoneProgress/create, ...:
		// accept with a null result.
	}
	_ = s.write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
}

func (s *Server) notification(m message) {
	if m.Method != "textDocument/publishDiagnostics" {
		return
	}
	var p struct {
		URI         string       `json:"uri"`
		Diagnostics []Diagnostic `json:"diagnostics"`
	}
	if err := json.Unmarshal(m.Params, &p); err != nil {
		return
	}
	path := uriPath(p.URI)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.diags[path]
	if d == nil {
		d = &published{}
		s.diags[path] = d
	}
	d.count++
	d.last = time.Now()
	d.diagnostics = p.Diagnostics
	close(s.changed)
	s.changed = make(chan struct{})
}

// Call sends a request and waits for its response.
func (s *Server) Call(ctx context.Context, method string, params, result any) error {
	ch := make(chan message, 1)
	s.mu.Lock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	s.pending[id] = ch
	s.mu.Unlock()
	if err := s.write(map[string]any{"jsonrpc": "2.0", "id": s.nextID, "method": method, "params": params}); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: server closed its output", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %w", method, m.Error)
		}
		if result != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Notify sends a notification.
func (s *Server) Notify(method string, params any) error {
	return s.write(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

// Open sends textDocument/didOpen for the file at path with the given text.
func (s *Server) Open(path, text string) error {
	s.mu.Lock()
	delete(s.diags, path)
	// Every document gets a new version: yaml-language-server caches
	// parsed documents by URI and version, and keeps them after didClose,
	// so reopening a URI at the same version with other text would be
	// validated as the old text.
	s.version++
	version := s.version
	s.mu.Unlock()
	return s.Notify("textDocument/didOpen", map[string]any{
		"textDocument": map[string]any{
			"uri": FileURI(path), "languageId": "yaml", "version": version, "text": text,
		},
	})
}

// Close sends textDocument/didClose.
func (s *Server) Close(path string) error {
	return s.Notify("textDocument/didClose", map[string]any{
		"textDocument": map[string]any{"uri": FileURI(path)},
	})
}

// Diagnostics waits until the server has published diagnostics for path
// since it was opened and then published nothing more for settle, and
// returns the last ones. The server validates after a delay and again when
// its settings change, so a document can get several publications.
func (s *Server) Diagnostics(ctx context.Context, path string, settle time.Duration) ([]Diagnostic, error) {
	for {
		s.mu.Lock()
		d := s.diags[path]
		changed := s.changed
		readErr := s.readErr
		s.mu.Unlock()
		wait := time.Hour
		if d != nil {
			wait = time.Until(d.last.Add(settle))
			if wait <= 0 {
				return d.diagnostics, nil
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-changed:
		case <-timer.C:
		case <-s.done:
			timer.Stop()
			if readErr == nil {
				readErr = errors.New("server output ended")
			}
			return nil, fmt.Errorf("waiting for diagnostics of %s: %w; stderr:\n%s", path, readErr, s.Stderr())
		case <-ctx.Done():
			timer.Stop()
			if d == nil {
				return nil, fmt.Errorf("no diagnostics published for %s: %w; stderr:\n%s", path, ctx.Err(), s.Stderr())
			}
			return nil, fmt.Errorf("diagnostics for %s did not settle (%d publications): %w", path, d.count, ctx.Err())
		}
		timer.Stop()
	}
}

// Shutdown sends shutdown and exit and waits for the process to end,
// killing it when it has not ended by the context's deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.Call(ctx, "shutdown", nil, nil)
	if err == nil {
		err = s.Notify("exit", nil)
	}
	_ = s.stdin.Close()
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	select {
	case werr := <-waited:
		if err == nil && werr != nil {
			err = fmt.Errorf("server exited: %w", werr)
		}
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-waited
		err = errors.Join(err, fmt.Errorf("server did not exit after shutdown and exit; killed it"))
	}
	return err
}

// Kill ends the server process at once.
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

// FileURI is the file:// URL of an absolute path.
func FileURI(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// uriPath is the path of a file:// URL, or the URL itself when it is not one.
func uriPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return uri
	}
	return filepath.FromSlash(u.Path)
}
