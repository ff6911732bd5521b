// SPDX-License-Identifier: Apache-2.0
#pragma once
// glibc's malloc, tuned for a daemon that runs for years with a dozen
// threads (docs/operations.md, docs/performance.md "Memory budget"):
//
// - glibc.malloc.tcache_count=64: glibc keeps 7 free chunks per size class
//   and thread by default. A TLS handshake under OpenSSL 3 allocates and
//   frees thousands of small objects, so most of them missed that cache and
//   took the arena's lock and slower paths (issue #3, session 6: 1000
//   measured ~17 % less CPU per handshake). Re-measured in session 10 on a
//   faster machine, 64 did as well as 1000 within noise, and 1000 held
//   megabytes per thread in a long run.
// - glibc.malloc.arena_max=2: by default every thread that meets a locked
//   arena gets one of its own (up to 8 per core); each keeps its own free
//   space, which the process never gives back. Two arenas for two cores.
// - glibc.malloc.mmap_threshold=131072: glibc raises this threshold each
//   time a large block is freed (up to 32 MiB), after which the 64 KiB-256
//   KiB transfer buffers came from the arenas and fragmented them. Fixed at
//   128 KiB, blocks that large are mapped and unmapped.
// Measured together in 4-minute runs of the sustained load (docs/
// reliability.md, "Where the RSS growth comes from").
//
// glibc reads tunables only from the environment at process start, so the
// daemon sets GLIBC_TUNABLES and executes itself again (its own binary, as
// /proc/self/exe resolves; same PID, same name, same argv,
// same environment plus those settings) before it does anything else: no
// thread, no token, no file is open yet. An operator's own value of any of
// them in GLIBC_TUNABLES wins (ours is added only for the others);
// ENCLAVE_ALLOCATOR_TUNING=off turns the whole thing off.

#include <array>
#include <string_view>

namespace enclave::appliance {

/// The settings added to GLIBC_TUNABLES (each unless already there).
inline constexpr std::array<std::string_view, 3> kAllocatorTunables = {
    "glibc.malloc.tcache_count=64", "glibc.malloc.arena_max=2", "glibc.malloc.mmap_threshold=131072"};

/// Returns only when no re-execution is needed or it failed (then the daemon
/// runs with glibc's defaults). Call first thing in main().
void apply_allocator_tuning(char** argv) noexcept;

}  // namespace enclave::appliance
