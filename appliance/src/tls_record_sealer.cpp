// SPDX-License-Identifier: Apache-2.0
#include "appliance/tls_record_sealer.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace enclave::appliance {

namespace {

// A sink BIO that appends to the RecordSealer's vector: unlike a memory BIO
// it needs no clearing between pieces and keeps its capacity.
int sink_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(BIO_get_data(bio));
    if (out == nullptr) return 0;
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    out->insert(out->end(), p, p + len);
    *written = len;
    return 1;
}

// Only a flush succeeds (OpenSSL flushes after each record); nothing is
// ever pending in a sink.
long sink_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int sink_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

const BIO_METHOD* sink_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                     "enclave sealed records");
        if (m == nullptr) return m;
        if (BIO_meth_set_write_ex(m, sink_write) != 1 || BIO_meth_set_ctrl(m, sink_ctrl) != 1 ||
            BIO_meth_set_create(m, sink_create) != 1) {
            BIO_meth_free(m);
            return static_cast<BIO_METHOD*>(nullptr);
        }
        return m;
    }();
    return method;
}

}  // namespace

RecordSealer::~RecordSealer() { BIO_free(out_); }

RecordSealer::Outcome RecordSealer::seal(SSL* ssl, std::span<const std::uint8_t> plain) {
    if (ssl == nullptr || plain.empty() || SSL_is_init_finished(ssl) != 1) return Outcome::declined;
    BIO* own = SSL_get_wbio(ssl);
    // Records the stream wrote and has not sent yet would come after ours.
    if (own == nullptr || BIO_wpending(own) != 0) return Outcome::declined;
    if (out_ == nullptr) {
        const BIO_METHOD* method = sink_method();
        out_ = method != nullptr ? BIO_new(method) : nullptr;
        if (out_ == nullptr) return Outcome::declined;
        BIO_set_data(out_, &records_);
    }
    records_.clear();
    // Each record adds its header and tag (22 bytes for AES-GCM in TLS 1.3).
    records_.reserve(plain.size() + (plain.size() / 16384 + 1) * 64);
    // SSL_set0_wbio takes over one reference of the BIO it is given and
    // drops one of the BIO it replaces: hold one of each across the swap.
    if (BIO_up_ref(own) != 1) return Outcome::declined;
    if (BIO_up_ref(out_) != 1) {
        BIO_free(own);
        return Outcome::declined;
    }
    ERR_clear_error();
    SSL_set0_wbio(ssl, out_);
    bool ok = true;
    std::size_t done = 0;
    while (done < plain.size()) {
        std::size_t n = 0;
        // A memory BIO never refuses a write: anything but success is a
        // broken connection (e.g. after a fatal alert).
        if (SSL_write_ex(ssl, plain.data() + done, plain.size() - done, &n) != 1 || n == 0) {
            ok = false;
            break;
        }
        done += n;
    }
    SSL_set0_wbio(ssl, own);  // hands our reference of `own` back, drops its one of out_
    if (!ok) {
        ERR_clear_error();
        return Outcome::failed;
    }
    return Outcome::sealed;
}

std::span<const std::uint8_t> RecordSealer::sealed() const noexcept { return records_; }

}  // namespace enclave::appliance
