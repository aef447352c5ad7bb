# bourse — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint fmt bench deny pg help

help:
	@echo "make run    - build and start bourse (demo exchange on embedded defaults)"
	@echo "make test   - lint + the whole test suite (what CI runs)"
	@echo "make bench  - criterion benchmarks (book, mixed flow vs other crates, NASDAQ replay)"
	@echo "make lint   - rustfmt check + clippy -D warnings"
	@echo "make pg     - start the local PostgreSQL the tests use (127.0.0.1:5432, database test)"
	@echo "make deny   - cargo deny: licences and bans; advisories too where the RustSec DB is reachable"

run:
	@scripts/ensure-toolchain.sh
	$(CARGO) run --release -p bourse-server --bin bourse -- demo

test: lint
	@scripts/ensure-postgres.sh
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint:
	@scripts/ensure-toolchain.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

pg:
	@scripts/ensure-postgres.sh

fmt:
	$(CARGO) fmt --all

bench:
	$(CARGO) bench -p bourse-benches

deny:
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny
	$(CARGO) deny check licenses bans
	-$(CARGO) deny check advisories  # needs the RustSec advisory DB (git); skipped offline
