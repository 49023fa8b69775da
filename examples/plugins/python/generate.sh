#!/bin/sh
# Regenerates the Python code of the plugin protocol (gen/) from
# plugins/proto/herald/plugin/v1/plugin.proto and proto/herald/health/v1/
# health.proto, with Debian bookworm's protoc and gRPC Python generator:
#
#	apt-get install protobuf-compiler protobuf-compiler-grpc
#	examples/plugins/python/generate.sh
#
# The output is committed, so running a plugin needs only python3-grpcio and
# python3-protobuf. .ci/run runs this script and fails when gen/ changes.
set -eu

PROTOC_VERSION=3.21.12 # = .ci/run's PROTOC_VERSION
GRPC_PYTHON_PLUGIN=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

cd "$(dirname "$0")"
got=$(protoc --version)
if [ "$got" != "libprotoc $PROTOC_VERSION" ]; then
	echo "generate.sh: protoc is '$got', want libprotoc $PROTOC_VERSION (apt-get install protobuf-compiler)" >&2
	exit 1
fi
if [ ! -x "$GRPC_PYTHON_PLUGIN" ]; then
	echo "generate.sh: no $GRPC_PYTHON_PLUGIN (apt-get install protobuf-compiler-grpc)" >&2
	exit 1
fi

rm -rf gen
mkdir gen
protoc \
	--proto_path=../../../plugins/proto \
	--proto_path=proto \
	--plugin=protoc-gen-grpc_python="$GRPC_PYTHON_PLUGIN" \
	--python_out=gen \
	--grpc_python_out=gen \
	herald/plugin/v1/plugin.proto \
	herald/health/v1/health.proto
# Regular packages, so that no other "herald" on sys.path can take over
# the namespace.
for d in herald herald/plugin herald/plugin/v1 herald/health herald/health/v1; do
	: >"gen/$d/__init__.py"
done
