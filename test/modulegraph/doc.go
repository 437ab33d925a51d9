// Package modulegraph checks what a platform team's builder manifest pulls
// in when it adds otel-evidence's four components (see its test).
package modulegraph // import "github.com/otel-evidence/otel-evidence/test/modulegraph"
