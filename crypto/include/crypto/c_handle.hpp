// SPDX-License-Identifier: Apache-2.0
#pragma once
// RAII for C library handles (OpenSSL, SQLite): a unique_ptr whose deleter
// calls the library's own free function.

#include <memory>

namespace enclave::crypto {

template <class T, auto Fn>
struct CDeleter {
    void operator()(T* p) const noexcept { Fn(p); }
};

template <class T, auto Fn>
using CHandle = std::unique_ptr<T, CDeleter<T, Fn>>;

}  // namespace enclave::crypto
