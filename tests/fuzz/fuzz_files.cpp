// SPDX-License-Identifier: Apache-2.0
// Files the appliance and its tools read:
//  - config: parse_config (enclave.toml); an accepted config rendered with
//    render_config must parse back to the same Config;
//  - wrapped_key: WrappedKeyFile::parse (the KEK-wrapped key files); an
//    accepted file must encode, and the encoding parse to the same fields;
//  - psk_file: load_psk_file (enclave-lea-sim's "IDENTITY HEXKEY" lines),
//    through a scratch file since it reads a path;
//  - blob: the blob store's file format (header, chunk layout, AEAD) as
//    BlobReader::open / read_all / read_range read it, with a fixed test
//    data key and object id; the seeds are real blobs under that key.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "appliance/config.hpp"
#include "crypto/blob_format.hpp"
#include "crypto/secret.hpp"
#include "crypto/wrapped_key_file.hpp"
#include "fuzz_harness.hpp"
#include "fuzz_seed_keys.hpp"
#include "fuzz_support.hpp"
#include "simulator/lea_simulator.hpp"

using namespace enclave;
using namespace enclave::fuzz;

extern "C" int enclave_fuzz_config(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "config";
    const std::filesystem::path data_dir = "/var/lib/enclave-fuzz";
    auto config = appliance::parse_config(as_text(data, size), data_dir);
    const int result = outcome(config, kName);
    if (config) {
        const std::string rendered = appliance::render_config(*config);
        auto again = appliance::parse_config(rendered, data_dir);
        fuzz_require(again.has_value(), kName, "render_config output does not parse");
        fuzz_require(*again == *config, kName, "render_config output parses to another Config");
    }
    return result;
}

extern "C" int enclave_fuzz_wrapped_key(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "wrapped_key";
    auto file = crypto::WrappedKeyFile::parse(crypto::ByteView(data, size));
    const int result = outcome(file, kName);
    if (file) {
        auto bytes = file->encode();
        fuzz_require(bytes.has_value(), kName, "a parsed file does not encode");
        auto again = crypto::WrappedKeyFile::parse(*bytes);
        fuzz_require(again.has_value() && again->kek_id == file->kek_id && again->wrapped == file->wrapped, kName,
                     "the encoding of a parsed file parses to other fields");
    }
    return result;
}

extern "C" int enclave_fuzz_psk_file(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "psk_file";
    static const auto path = scratch_file("psks.txt");
    write_file(path, data, size);
    auto resolver = simulator::load_psk_file(path);
    return outcome(resolver, kName);
}

extern "C" int enclave_fuzz_blob(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "blob";
    static const crypto::Secret key = crypto::Secret::copy_of(crypto::ByteView(kBlobSeedKey));
    crypto::UniqueFd fd(::memfd_create("enclave-fuzz-blob", MFD_CLOEXEC));
    fuzz_require(fd.valid(), kName, "memfd_create failed");
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd.get(), data + done, size - done);
        fuzz_require(n > 0, kName, "writing the memfd failed");
        done += static_cast<std::size_t>(n);
    }
    auto reader = crypto::BlobReader::open(std::move(fd), key, kBlobSeedObjectId);
    if (!reader) return outcome(reader, kName);
    std::uint64_t seen = 0;
    auto all = reader->read_all([&](crypto::ByteView chunk) -> crypto::Result<void> {
        seen += chunk.size();
        return {};
    });
    if (!all) return outcome(all, kName);
    fuzz_require(seen == reader->size(), kName, "read_all delivered another size than size()");
    const std::uint64_t half = reader->size() / 2;
    std::uint64_t ranged = 0;
    auto part = reader->read_range(half, reader->size() - half, [&](crypto::ByteView chunk) -> crypto::Result<void> {
        ranged += chunk.size();
        return {};
    });
    if (!part) return outcome(part, kName);
    fuzz_require(ranged == reader->size() - half, kName, "read_range delivered another length");
    return kAccepted;
}
