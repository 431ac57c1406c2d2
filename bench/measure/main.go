// Command measure runs a command and records its wall time, peak resident
// memory and CPU time, from the rusage that wait4 returns: the process and
// every descendant it waited for (maxrss is that of the largest single
// process, as /usr/bin/time -v reports it). The command's stdout and stderr
// go to files, so that printing to a terminal does not count. Request
// counts the command prints to stderr in prefect-apply's --stats form
//
//	requests to Prefect: 4
//	  POST work_pools/filter                       1
//
// are recorded with the rest. The record is one JSON line, printed and,
// with -record, appended to a file; -tag adds fields to it.
//
//	measure -record results.jsonl -tag n=10 -tag what=diff -- prefect-apply diff -f pools.yaml --stats
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Record is one measured run.
type Record struct {
	Tags     map[string]string         `json:"tags,omitempty"`
	Wall     float64                   `json:"wall_s"`
	MaxRSS   int64                     `json:"maxrss_kb"`
	User     float64                   `json:"user_s"`
	Sys      float64                   `json:"sys_s"`
	Exit     int                       `json:"exit"`
	Requests map[string]int            `json:"requests,omitempty"`
	Routes   map[string]map[string]int `json:"routes,omitempty"`
}

type tags map[string]string

func (t tags) String() string { return fmt.Sprint(map[string]string(t)) }
func (t tags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	t[k] = v
	return nil
}

func main() {
	stdout := flag.String("out", os.DevNull, "`FILE` for the command's stdout")
	stderr := flag.String("err", "", "`FILE` for the command's stderr (default: a temporary file, removed)")
	record := flag.String("record", "", "append the JSON record to `FILE`")
	t := tags{}
	flag.Var(t, "tag", "`KEY=VALUE` to add to the record (repeatable)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure [-out FILE] [-err FILE] [-record FILE] [-tag K=V]... -- COMMAND [ARG]...")
		os.Exit(2)
	}
	errName := *stderr
	if errName == "" {
		f, err := os.CreateTemp("", "measure-stderr-*")
		if err != nil {
			fail(err)
		}
		f.Close()
		errName = f.Name()
		defer os.Remove(errName)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	outFile, err := os.Create(*stdout)
	if err != nil {
		fail(err)
	}
	errFile, err := os.Create(errName)
	if err != nil {
		fail(err)
	}
	cmd.Stdout, cmd.Stderr = outFile, errFile
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	outFile.Close()
	errFile.Close()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fail(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := Record{
		Wall:   wall.Seconds(),
		MaxRSS: ru.Maxrss, // kilobytes on Linux
		User:   time.Duration(ru.Utime.Nano()).Seconds(),
		Sys:    time.Duration(ru.Stime.Nano()).Seconds(),
		Exit:   cmd.ProcessState.ExitCode(),
	}
	if len(t) > 0 {
		r.Tags = t
	}
	if data, err := os.ReadFile(errName); err == nil {
		r.Requests, r.Routes = parseStats(data)
	}
	line, err := json.Marshal(r)
	if err != nil {
		fail(err)
	}
	line = append(line, '\n')
	os.Stdout.Write(line)
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fail(err)
		}
		if _, err := f.Write(line); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
	}
}

var (
	header = regexp.MustCompile(`^requests to (\S+): (\d+)$`)
	entry  = regexp.MustCompile(`^\s+(\S.*?)\s+(\d+)$`)
)

// parseStats reads --stats blocks: totals per server and counts per route.
func parseStats(data []byte) (map[string]int, map[string]map[string]int) {
	var totals map[string]int
	var routes map[string]map[string]int
	server := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := header.FindStringSubmatch(line); m != nil {
			if totals == nil {
				totals, routes = map[string]int{}, map[string]map[string]int{}
			}
			server = m[1]
			n, _ := strconv.Atoi(m[2])
			totals[server] += n
			if routes[server] == nil {
				routes[server] = map[string]int{}
			}
			continue
		}
		if m := entry.FindStringSubmatch(line); m != nil && server != "" {
			n, _ := strconv.Atoi(m[2])
			routes[server][m[1]] += n
			continue
		}
		server = ""
	}
	return totals, routes
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "measure:", err)
	os.Exit(1)
}
