// SPDX-License-Identifier: Apache-2.0
// A wiping allocator for SQLite (SQLITE_CONFIG_MALLOC).
//
// Why: SQLCipher 3.4.1 decrypts pages into SQLite's page cache and copies bound
// values into SQLite's heap; it has no cipher_memory_security. Task values and
// salts (issue #4) pass through there. With this allocator every block SQLite
// frees or moves is overwritten (sodium_memzero) before it returns to the C
// heap, so freed plaintext does not linger in the process.
//
// SQLite accepts an allocator only before it initialises, so it is installed
// by a static initialiser of this translation unit (linked in whenever
// SealedDb is used) and checked again, at first use, by SealedDb.
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "crypto/sealed_db.hpp"
#include "sealed_db_internal.hpp"

namespace enclave::crypto::detail {
namespace {

// Each block carries its usable size in a 16-byte header (keeps 16-byte alignment).
constexpr std::size_t kHeader = 16;

std::atomic<std::uint64_t> g_allocations{0};
std::atomic<bool> g_installed{false};

std::size_t block_size(void* p) noexcept {
    std::size_t n;
    std::memcpy(&n, static_cast<char*>(p) - kHeader, sizeof n);
    return n;
}

void* wiping_malloc(int n) {
    if (n <= 0) return nullptr;
    const auto size = static_cast<std::size_t>(n);
    auto* base = static_cast<char*>(std::malloc(size + kHeader));
    if (base == nullptr) return nullptr;
    std::memcpy(base, &size, sizeof size);
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return base + kHeader;
}

void wiping_free(void* p) {
    if (p == nullptr) return;
    char* base = static_cast<char*>(p) - kHeader;
    sodium_memzero(base, block_size(p) + kHeader);
    std::free(base);
}

void* wiping_realloc(void* p, int n) {
    if (p == nullptr) return wiping_malloc(n);
    if (n <= 0) {
        wiping_free(p);
        return nullptr;
    }
    void* fresh = wiping_malloc(n);
    if (fresh == nullptr) return nullptr;  // SQLite keeps the old block on failure
    const std::size_t old_size = block_size(p);
    std::memcpy(fresh, p, old_size < static_cast<std::size_t>(n) ? old_size : static_cast<std::size_t>(n));
    wiping_free(p);
    return fresh;
}

int wiping_size(void* p) { return p == nullptr ? 0 : static_cast<int>(block_size(p)); }
int wiping_roundup(int n) { return (n + 7) & ~7; }
int wiping_init(void*) { return SQLITE_OK; }
void wiping_shutdown(void*) {}

bool install() noexcept {
    static const sqlite3_mem_methods kMethods = {
        wiping_malloc, wiping_free,  wiping_realloc, wiping_size,
        wiping_roundup, wiping_init, wiping_shutdown, nullptr,
    };
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &kMethods) == SQLITE_OK) {
        g_installed.store(true);
    }
    return g_installed.load();
}

// Runs before main() in every program that links SealedDb.
const bool g_installed_at_startup = install();

}  // namespace

bool wiping_allocator_installed() noexcept { return g_installed_at_startup || g_installed.load(); }

std::uint64_t wiping_allocator_allocations() noexcept {
    return g_allocations.load(std::memory_order_relaxed);
}

}  // namespace enclave::crypto::detail

namespace enclave::crypto {
bool SealedDb::sqlite_heap_wiped() noexcept { return detail::wiping_allocator_installed(); }
std::uint64_t SealedDb::sqlite_heap_allocations() noexcept {
    return detail::wiping_allocator_allocations();
}
}  // namespace enclave::crypto
