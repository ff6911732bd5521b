// SPDX-License-Identifier: Apache-2.0
#include "crypto/secret.hpp"

#include <sodium.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace enclave::crypto {

void ensure_sodium() {
    // sodium_init is itself thread-safe and idempotent; the static keeps the
    // check to one call per process.
    static const int rc = sodium_init();
    if (rc < 0) {
        throw std::runtime_error("libsodium failed to initialise");
    }
}

Secret::Secret(std::size_t size) {
    if (size == 0) {
        return;
    }
    ensure_sodium();
    void* p = sodium_malloc(size);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    data_ = static_cast<std::uint8_t*>(p);
    size_ = size;
    sodium_memzero(data_, size_);
}

Secret::~Secret() { release(); }

Secret::Secret(Secret&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        release();
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

void Secret::release() noexcept {
    if (data_ != nullptr) {
        // sodium_free wipes the whole allocation before unmapping it.
        sodium_free(data_);
        data_ = nullptr;
        size_ = 0;
    }
}

Secret Secret::random(std::size_t size) {
    Secret s(size);
    if (size > 0) {
        randombytes_buf(s.data_, size);
    }
    return s;
}

Secret Secret::copy_of(ByteView bytes) {
    Secret s(bytes.size());
    if (!bytes.empty()) {
        std::memcpy(s.data_, bytes.data(), bytes.size());
    }
    return s;
}

void Secret::truncate(std::size_t new_size) noexcept {
    if (new_size >= size_) {
        return;
    }
    sodium_memzero(data_ + new_size, size_ - new_size);
    size_ = new_size;
}

bool Secret::equals(const Secret& other) const noexcept {
    return constant_time_equal(view(), other.view());
}

void wipe(MutableByteView bytes) noexcept {
    if (!bytes.empty()) {
        sodium_memzero(bytes.data(), bytes.size());
    }
}

void wipe(std::string& text) noexcept {
    if (!text.empty()) sodium_memzero(text.data(), text.size());
    text.clear();
}

bool constant_time_equal(ByteView a, ByteView b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    if (a.empty()) {
        return true;
    }
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace enclave::crypto
