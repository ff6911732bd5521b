// SPDX-License-Identifier: Apache-2.0
#pragma once
// Seals a large plaintext into TLS records in one go, for the
// streamed response bodies of the mutual-TLS listeners.
//
// Asio's SSL stream moves one record at a time through a BIO pair: per 16 KiB
// record an SSL_write, a copy out of the pair, a send() and a trip through the
// event loop (with a deadline re-armed each time). For a body of many
// megabytes that is most of the cost. RecordSealer instead points the SSL
// object's write side at its own memory BIO for the length of one call,
// writes the whole piece (many records), and points it back; the caller sends
// the sealed bytes with one write on the socket.
//
// Safe only between operations: no asynchronous SSL operation of the stream
// may be in progress, and the stream's own output must have been flushed
// (seal() checks the latter and declines otherwise). What it holds is
// ciphertext only: nothing to wipe.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <openssl/types.h>

#include "crypto/result.hpp"

namespace enclave::appliance {

class RecordSealer {
public:
    RecordSealer() = default;
    ~RecordSealer();
    RecordSealer(const RecordSealer&) = delete;
    RecordSealer& operator=(const RecordSealer&) = delete;

    enum class Outcome {
        sealed,    ///< sealed() holds the records of the whole piece
        declined,  ///< nothing was written: use the stream's own write
        failed,    ///< the SSL object failed mid-way: close the connection
    };

    /// Encrypts `plain` as application-data records of `ssl`'s connection.
    Outcome seal(SSL* ssl, std::span<const std::uint8_t> plain);

    /// The records of the last sealed piece, valid until the next seal().
    [[nodiscard]] std::span<const std::uint8_t> sealed() const noexcept;

private:
    std::vector<std::uint8_t> records_;  // ciphertext; declared first, outlives out_
    BIO* out_ = nullptr;                 // a sink BIO appending to records_
};

}  // namespace enclave::appliance
