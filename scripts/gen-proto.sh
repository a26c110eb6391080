#!/usr/bin/env bash
# Regenerates src/proto/ from proto/*.proto with ts-proto. The output is committed, so building and
# testing never need protoc; run this only after changing a .proto file.
# Needs protoc (Debian: apt-get install protobuf-compiler) and the devDependencies (npm install).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/proto
# The generated code lives in one directory per proto package; files directly in $out are ours.
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=forceLong=bigint,esModuleInterop=true,importSuffix=.js,outputServices=grpc-js,oneof=unions-value,useOptionals=none,outputJsonMethods=true,outputPartialMethods=true,useExactTypes=false,env=both,useReadonlyTypes=false \
  --proto_path=proto \
  $(find proto -name '*.proto' | sort)
npx prettier --log-level warn --write "$out"/*/
