package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/otel-evidence/otel-evidence/cmd/evidencectl/internal/cli.Version=v1.2.3".
// When empty, the module version from the build information is used.
var Version = ""

// buildInfo describes the binary.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "dev"
	}
	return bi
}

// versionString is the one-line version shown by --version.
func versionString() string {
	bi := readBuildInfo()
	s := bi.Version
	if bi.Commit != "" {
		c := bi.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if bi.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + bi.GoVersion + " " + bi.Platform
}

func newVersionCmd(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of evidencectl",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if root.jsonOutput() {
				return root.printJSON(readBuildInfo())
			}
			_, err := fmt.Fprintf(root.stdout(), "evidencectl %s\n", versionString())
			return err
		},
	}
}
