//go:build !linux

package s3server

import "os/exec"

// setProcAttr does nothing outside Linux; t.Cleanup stops the server.
func setProcAttr(*exec.Cmd) {}
