# bourse — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint fmt bench deny pg nats help web web-check e2e

help:
	@echo "make run    - build and start bourse (demo exchange on embedded defaults)"
	@echo "make test   - lint + the whole test suite (what CI runs)"
	@echo "make bench  - criterion benchmarks (book, mixed flow vs other crates, NASDAQ replay)"
	@echo "make lint   - rustfmt check + clippy -D warnings"
	@echo "make web    - build the web page (web/dist, embedded into the binary by the next cargo build)"
	@echo "make e2e    - the web page's end-to-end tests in headless Chromium against a real bourse demo"
	@echo "make pg     - start the local PostgreSQL the tests use (127.0.0.1:5432, database test)"
	@echo "make nats   - start the local NATS JetStream the edge-tier tests use (127.0.0.1:4222)"
	@echo "make deny   - cargo deny: licences and bans; advisories too where the RustSec DB is reachable"

run: web
	@scripts/ensure-toolchain.sh
	$(CARGO) build --release -p bourse-server --bin bourse
	@echo "bourse demo: open http://127.0.0.1:8080/ (log in as demo / demo-password)"
	target/release/bourse demo

# The page is built before cargo builds the binary that embeds it.
test: lint web-check web
	@scripts/ensure-postgres.sh
	@scripts/ensure-nats.sh
	@scripts/ensure-quickfix.sh >/dev/null
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) e2e

web:
	@scripts/ensure-web.sh
	npm --prefix web run --silent build

# Type-check, lint and unit-test the page's TypeScript.
web-check:
	@scripts/ensure-web.sh
	npm --prefix web run --silent check

# Drives Debian's Chromium against `bourse demo` (the debug build cargo test just made).
e2e:
	@scripts/ensure-web.sh browser
	@test -x target/debug/bourse || $(CARGO) build -p bourse-server --bin bourse
	BOURSE_BIN=$(CURDIR)/target/debug/bourse npm --prefix web run --silent e2e

lint:
	@scripts/ensure-toolchain.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

pg:
	@scripts/ensure-postgres.sh

nats:
	@scripts/ensure-nats.sh

fmt:
	$(CARGO) fmt --all

bench:
	$(CARGO) bench -p bourse-benches

deny:
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny
	$(CARGO) deny check licenses bans
	-$(CARGO) deny check advisories  # needs the RustSec advisory DB (git); skipped offline
