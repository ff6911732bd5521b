# Enclave developer entry points. Every target installs missing Debian
# packages first (image/packages.txt), so a fresh bookworm machine needs only
# `make test` or `make run`.
BUILD_DIR ?= build
SAN_DIR   ?= build-sanitize
BUILD_TYPE ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-sanitize run bench clean

all: build

deps:
	@./image/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(SAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DENCLAVE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(SAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SAN_DIR) --output-on-failure -j $(JOBS)

# Provisions ./var on first use (SoftHSM2 token, keys, demo PKI, config) and
# runs enclaved in the foreground. Ctrl-C stops it (SIGINT = graceful stop).
DATA_DIR ?= $(CURDIR)/var
run: build
	@if [ ! -f "$(DATA_DIR)/enclave.toml" ]; then \
	  echo "make run: provisioning a demo instance in $(DATA_DIR)"; \
	  $(BUILD_DIR)/appliance/enclavectl init --data-dir "$(DATA_DIR)"; \
	fi
	@echo ""
	@echo "LEA listener:    https://127.0.0.1:8443 (mutual TLS; demo LEA client certificate)"
	@echo "ingest listener: https://127.0.0.1:9443 (mutual TLS; demo collector certificate)"
	@echo "admin API:       $(DATA_DIR)/run/admin.sock"
	@echo ""
	@echo "Try, from another shell:"
	@echo "  curl --cacert $(DATA_DIR)/pki/demo-ca.pem --cert $(DATA_DIR)/pki/demo-lea.pem --key $(DATA_DIR)/pki/demo-lea.key https://localhost:8443/v1/whoami"
	@echo "  openssl s_client -connect 127.0.0.1:8443 -CAfile $(DATA_DIR)/pki/demo-ca.pem -cert $(DATA_DIR)/pki/demo-lea.pem -key $(DATA_DIR)/pki/demo-lea.key -brief </dev/null"
	@echo "  $(BUILD_DIR)/appliance/enclavectl --data-dir $(DATA_DIR) status"
	@echo "  $(BUILD_DIR)/appliance/enclavectl --data-dir $(DATA_DIR) task list       (tasks: docs/tasks.md)"
	@echo "  $(BUILD_DIR)/appliance/enclavectl --data-dir $(DATA_DIR) audit key       (auditors: docs/auditor-guide.md)"
	@echo ""
	$(BUILD_DIR)/appliance/enclaved --data-dir "$(DATA_DIR)"

bench: build
	set -e; for b in $(BUILD_DIR)/tests/bench/enclave-bench-*; do "$$b"; done

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR)
