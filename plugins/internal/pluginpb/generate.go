// Package pluginpb holds the Go code generated from Herald's plugin
// protocol, plugins/proto/herald/plugin/v1/plugin.proto. It is internal: the
// plugins package converts between these types and Herald's agent and
// delivery types, so neither plugin authors nor hosts see them.
//
// Regenerate with go generate (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on PATH, at the versions pinned in .ci/run).
package pluginpb

//go:generate protoc --proto_path=../../proto --go_out=. --go_opt=module=github.com/heraldhq/herald/plugins/internal/pluginpb --go-grpc_out=. --go-grpc_opt=module=github.com/heraldhq/herald/plugins/internal/pluginpb herald/plugin/v1/plugin.proto
