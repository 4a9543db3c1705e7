# ImageFlowCanvas: the two commands a user needs are `make run` and `make test`.
# Everything downloaded or built lives under $(IFC_CACHE), outside the checkout.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export IFC_CACHE ?= $(HOME)/.cache/ifc
export IFC_ORT_LIB ?= $(IFC_CACHE)/ort/1.30.0/package/bin/napi-v6/linux/x64/libonnxruntime.so.1
export IFC_NODE_PATH ?= $(IFC_CACHE)/node/node_modules
export PATH := $(IFC_CACHE)/bin:$(PATH)
IFC_BIN := $(IFC_CACHE)/build/ifc
SEED_BIN := $(IFC_CACHE)/build/ifc-seed
DATA_DIR ?= $(IFC_CACHE)/all-in-one
GO_TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: help setup ui build run test proto models bench

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## install build and test prerequisites (idempotent)
	@deploy/dev/setup
	@deploy/dev/ui install

ui: setup ## type-check and build the web UI into ui/dist (embedded by the ifc binary)
	deploy/dev/ui build

build: ui ## build the ifc binary (with the web UI) into $(IFC_CACHE)/build
	go build -o $(IFC_BIN) ./cmd/ifc

run: build ## set up and run the all-in-one system (API on :8080, gRPC on :9090)
	$(IFC_BIN) all-in-one --data-dir $(DATA_DIR)

test: ui ## set up and run every test: Go (with the real backend servers), UI unit + browser end-to-end, desktop app build + end-to-end
	go vet ./...
	go build -o $(IFC_BIN) ./cmd/ifc
	go build -o $(SEED_BIN) ./ui/e2e/seed
	mkdir -p $(IFC_CACHE)/run
	deploy/dev/backends start > $(IFC_CACHE)/run/backends.env
	set -a; . $(IFC_CACHE)/run/backends.env; set +a; rc=0; \
	  IFC_REQUIRE_BACKENDS=1 go test $(GO_TEST_FLAGS) ./... || rc=1; \
	  deploy/dev/backends stop; \
	  deploy/dev/ui test || rc=1; \
	  IFC_BIN=$(IFC_BIN) IFC_SEED_BIN=$(SEED_BIN) deploy/dev/ui e2e || rc=1; \
	  IFC_DESKTOP_UI_BUILT=1 deploy/dev/desktop build && deploy/dev/desktop test && \
	    IFC_BIN=$(IFC_BIN) deploy/dev/desktop e2e || rc=1; \
	  exit $$rc

proto: setup ## regenerate Go from proto/ (commit the result)
	buf lint
	buf generate

models: setup ## regenerate data, retrain both models and rewrite their bundles (~25 min on 2 cores)
	models/train/run.sh

bench: setup ## run the benchmarks written up in docs/benchmarks.md
	go test -run '^$$' -bench . -benchtime 200x ./cloud/... ./models/...
