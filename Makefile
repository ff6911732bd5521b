# Enclave developer entry points. Every target installs missing Debian
# packages first (image/packages.txt), so a fresh bookworm machine needs only
# `make test` or `make run`.
BUILD_DIR ?= build
SAN_DIR   ?= build-sanitize
BUILD_TYPE ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-long test-sanitize run bench clean fuzz-smoke package \
	image image-test

all: build

deps:
	@./image/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -LE long

# The long suite (tests/long: fault-injection rounds, TLS scan, 10-minute
# load; docs/reliability.md), one test at a time so the load figures hold.
test-long: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 1 -L long

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(SAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DENCLAVE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(SAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SAN_DIR) --output-on-failure -j $(JOBS) -LE long

# Provisions ./var on first use (SoftHSM2 token, keys, demo PKI, config),
# starts the demo LEA (enclave-lea-sim) and runs enclaved in the foreground;
# the first run shows a delivery to the simulator (scripts/run-demo.sh).
# Ctrl-C stops both (SIGINT = graceful stop).
DATA_DIR ?= $(CURDIR)/var
run: build
	./scripts/run-demo.sh "$(BUILD_DIR)" "$(DATA_DIR)"

# The Debian package (docs/packaging.md): $(BUILD_DIR)/package/enclave_<version>_<arch>.deb
# (cpack; dpkg-shlibdeps from dpkg-dev computes the library dependencies).
package: build
	cmake --build $(BUILD_DIR) --target package

# The appliance image (docs/image.md): a read-only Debian bookworm root file
# system (squashfs) holding the package, p11-kit with the token module,
# SoftHSM2's library and systemd, without apt, dpkg or a compiler:
# $(IMAGE_DIR)/enclave-image.squashfs, .squashfs.sha256 and .manifest.
# Needs root and the Debian archive, takes minutes: not part of `make test`.
IMAGE_DIR ?= build-image
image: configure
	JOBS=$(JOBS) ./image/build-image.sh $(BUILD_DIR) $(IMAGE_DIR)

$(IMAGE_DIR)/enclave-image.squashfs:
	$(MAKE) image

# Boots the image with systemd-nspawn (else runs enclaved chrooted in it),
# provisions an instance, checks /readyz and mutual TLS (image/test-image.sh).
image-test: deps $(IMAGE_DIR)/enclave-image.squashfs
	./image/test-image.sh $(IMAGE_DIR)

bench: build
	set -e; for b in $(BUILD_DIR)/tests/bench/enclave-bench-*; do "$$b"; done

# libFuzzer harnesses of the parsers (tests/fuzz, docs/reliability.md):
# a clang-14 build with ASan+UBSan in $(FUZZ_DIR), then each harness for
# FUZZ_SECONDS on a copy of its seeds; fails on any crash, leak or hang.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz-smoke: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DENCLAVE_FUZZ=ON -DENCLAVE_WERROR=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target enclave_fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run_fuzz_smoke.sh $(FUZZ_DIR)

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR) $(FUZZ_DIR) $(IMAGE_DIR)
