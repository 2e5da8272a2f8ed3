// Command orchestrator drives the external-snapshot flow of a libvirt-like
// orchestrator through digitalocean/go-qemu's QMP socket monitor: two
// blockdev-create jobs per step, waited for on the library's event stream,
// then blockdev-add and a blockdev-snapshot + bitmap transaction. It prints
// a JSON summary (job status sequences, queries) for the test to check.
//
// Usage: orchestrator SOCKET DISK_SIZE
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// eventLog collects every event from the library's stream, so that the
// stream never blocks, and lets the flow wait for job states.
type eventLog struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []qmp.Event
	closed bool
}

func newEventLog(ch <-chan qmp.Event) *eventLog {
	l := &eventLog{}
	l.cond = sync.NewCond(&l.mu)
	go func() {
		for e := range ch {
			l.mu.Lock()
			l.events = append(l.events, e)
			l.cond.Broadcast()
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.closed = true
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
	return l
}

// statuses returns the JOB_STATUS_CHANGE statuses of one job, in order.
func (l *eventLog) statuses(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if e.Event == "JOB_STATUS_CHANGE" && e.Data["id"] == id {
			out = append(out, fmt.Sprint(e.Data["status"]))
		}
	}
	return out
}

// waitStatus blocks until job id reports status (or the stream ends).
func (l *eventLog) waitStatus(id, status string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	go func() {
		time.Sleep(timeout)
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for _, e := range l.events {
			if e.Event == "JOB_STATUS_CHANGE" && e.Data["id"] == id && e.Data["status"] == status {
				return nil
			}
		}
		if l.closed || time.Now().After(deadline) {
			return fmt.Errorf("job %s never reached %s", id, status)
		}
		l.cond.Wait()
	}
}

type flow struct {
	mon *qmp.SocketMonitor
	log *eventLog
}

// run executes one command and decodes its "return" member.
func (f *flow) run(execute string, args interface{}) (json.RawMessage, error) {
	cmd, err := json.Marshal(qmp.Command{Execute: execute, Args: args})
	if err != nil {
		return nil, err
	}
	raw, err := f.mon.Run(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", execute, err)
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return nil, err
	}
	return reply.Return, nil
}

type obj = map[string]interface{}

// createAll starts one blockdev-create job per entry, waits for each to
// conclude, checks it has no error, and dismisses it.
func (f *flow) createAll(jobs map[string]obj) error {
	for id, options := range jobs {
		if _, err := f.run("blockdev-create", obj{"job-id": id, "options": options}); err != nil {
			return err
		}
	}
	for id := range jobs {
		if err := f.log.waitStatus(id, "concluded", 60*time.Second); err != nil {
			return err
		}
	}
	raw, err := f.run("query-jobs", nil)
	if err != nil {
		return err
	}
	var listed []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(raw, &listed); err != nil {
		return err
	}
	for _, j := range listed {
		if j.Error != "" {
			return fmt.Errorf("job %s failed: %s", j.ID, j.Error)
		}
	}
	for id := range jobs {
		if _, err := f.run("job-dismiss", obj{"id": id}); err != nil {
			return err
		}
		if err := f.log.waitStatus(id, "null", 10*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func (f *flow) orchestrate(size int64) (obj, error) {
	disks := []int{0, 1}
	for _, i := range disks {
		if _, err := f.run("blockdev-add", obj{
			"driver": "qcow2", "node-name": fmt.Sprintf("base%d", i),
			"file": obj{"driver": "file", "filename": fmt.Sprintf("base%d.qcow2", i), "node-name": fmt.Sprintf("base%d-file", i)},
		}); err != nil {
			return nil, err
		}
	}
	if _, err := f.run("block-dirty-bitmap-add", obj{"node": "base0", "name": "b0", "persistent": true}); err != nil {
		return nil, err
	}
	files := map[string]obj{}
	formats := map[string]obj{}
	for _, i := range disks {
		files[fmt.Sprintf("cf%d", i)] = obj{"driver": "file", "filename": fmt.Sprintf("ov%d.qcow2", i), "size": 0}
		formats[fmt.Sprintf("cq%d", i)] = obj{
			"driver": "qcow2", "file": fmt.Sprintf("ov%d-file", i), "size": size,
			"backing-file": fmt.Sprintf("base%d.qcow2", i), "backing-fmt": "qcow2",
		}
	}
	if err := f.createAll(files); err != nil {
		return nil, err
	}
	for _, i := range disks {
		if _, err := f.run("blockdev-add", obj{"driver": "file", "filename": fmt.Sprintf("ov%d.qcow2", i), "node-name": fmt.Sprintf("ov%d-file", i)}); err != nil {
			return nil, err
		}
	}
	if err := f.createAll(formats); err != nil {
		return nil, err
	}
	for _, i := range disks {
		if _, err := f.run("blockdev-add", obj{"driver": "qcow2", "node-name": fmt.Sprintf("ov%d", i), "file": fmt.Sprintf("ov%d-file", i), "backing": nil}); err != nil {
			return nil, err
		}
	}
	actions := []obj{}
	for _, i := range disks {
		actions = append(actions,
			obj{"type": "blockdev-snapshot", "data": obj{"node": fmt.Sprintf("base%d", i), "overlay": fmt.Sprintf("ov%d", i)}},
			obj{"type": "block-dirty-bitmap-add", "data": obj{"node": fmt.Sprintf("ov%d", i), "name": "b1", "persistent": true}})
	}
	actions = append(actions, obj{"type": "block-dirty-bitmap-disable", "data": obj{"node": "base0", "name": "b0"}})
	if _, err := f.run("transaction", obj{"actions": actions}); err != nil {
		return nil, err
	}
	summary := obj{"statuses": obj{}}
	for id := range files {
		summary["statuses"].(obj)[id] = f.log.statuses(id)
	}
	for id := range formats {
		summary["statuses"].(obj)[id] = f.log.statuses(id)
	}
	for _, q := range []string{"query-named-block-nodes", "query-block", "query-jobs"} {
		raw, err := f.run(q, nil)
		if err != nil {
			return nil, err
		}
		summary[q] = raw
	}
	if _, err := f.run("quit", nil); err != nil {
		return nil, err
	}
	return summary, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: orchestrator SOCKET DISK_SIZE")
		os.Exit(2)
	}
	size, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err == nil {
		err = runFlow(os.Args[1], size)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

func runFlow(socket string, size int64) error {
	mon, err := qmp.NewSocketMonitor("unix", socket, 5*time.Second)
	if err != nil {
		return err
	}
	if err := mon.Connect(); err != nil {
		return err
	}
	defer mon.Disconnect()
	events, err := mon.Events(context.Background())
	if err != nil {
		return err
	}
	f := &flow{mon: mon, log: newEventLog(events)}
	summary, err := f.orchestrate(size)
	if err != nil {
		return err
	}
	summary["version"] = mon.Version
	return json.NewEncoder(os.Stdout).Encode(summary)
}
