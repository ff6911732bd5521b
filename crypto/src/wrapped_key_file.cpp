// SPDX-License-Identifier: Apache-2.0
#include "crypto/wrapped_key_file.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sealed_db_fs.hpp"

namespace enclave::crypto {
namespace {

constexpr std::size_t kMagicSize = sizeof(WrappedKeyFile::kMagic);

bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void put_u16(Bytes& out, std::size_t v) {
    out.push_back(static_cast<std::uint8_t>((v >> 8) & 0xff));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

/// A cursor over the input that refuses to read past the end.
class Reader {
public:
    explicit Reader(ByteView in) : in_(in) {}
    [[nodiscard]] std::size_t remaining() const { return in_.size() - pos_; }
    bool u16(std::size_t& v) {
        if (remaining() < 2) {
            return false;
        }
        v = (static_cast<std::size_t>(in_[pos_]) << 8) | in_[pos_ + 1];
        pos_ += 2;
        return true;
    }
    bool take(std::size_t n, ByteView& out) {
        if (remaining() < n) {
            return false;
        }
        out = in_.subspan(pos_, n);
        pos_ += n;
        return true;
    }

private:
    ByteView in_;
    std::size_t pos_ = 0;
};

tl::unexpected<Error> malformed(const std::string& why) {
    return fail(Errc::malformed_input, "wrapped key file: " + why);
}

}  // namespace

Result<Bytes> WrappedKeyFile::encode() const {
    if (kek_id.empty() || kek_id.size() > kMaxKekIdLength) {
        return fail(Errc::invalid_argument, "wrapped key file: KEK id must be 1 to 255 characters");
    }
    if (!printable_ascii(kek_id)) {
        return fail(Errc::invalid_argument, "wrapped key file: KEK id must be printable ASCII");
    }
    if (wrapped.empty() || wrapped.size() > kMaxWrappedLength) {
        return fail(Errc::invalid_argument, "wrapped key file: wrapped key must be 1 to 1024 bytes");
    }
    Bytes out;
    out.reserve(kMagicSize + 6 + kek_id.size() + wrapped.size());
    out.insert(out.end(), kMagic, kMagic + kMagicSize);
    put_u16(out, kVersion);
    put_u16(out, kek_id.size());
    out.insert(out.end(), kek_id.begin(), kek_id.end());
    put_u16(out, wrapped.size());
    out.insert(out.end(), wrapped.begin(), wrapped.end());
    return out;
}

Result<WrappedKeyFile> WrappedKeyFile::parse(ByteView bytes) {
    if (bytes.size() > kMaxFileSize) {
        return malformed("larger than any valid key file");
    }
    Reader r(bytes);
    ByteView magic;
    if (!r.take(kMagicSize, magic) || std::memcmp(magic.data(), kMagic, kMagicSize) != 0) {
        return malformed("bad magic (not a wrapped key file)");
    }
    std::size_t version = 0;
    if (!r.u16(version)) {
        return malformed("truncated before the version");
    }
    if (version != kVersion) {
        return malformed("unsupported format version " + std::to_string(version));
    }
    std::size_t id_len = 0;
    ByteView id;
    if (!r.u16(id_len) || id_len == 0 || id_len > kMaxKekIdLength) {
        return malformed("KEK id length missing or out of range");
    }
    if (!r.take(id_len, id)) {
        return malformed("truncated inside the KEK id");
    }
    WrappedKeyFile out;
    out.kek_id.assign(reinterpret_cast<const char*>(id.data()), id.size());
    if (!printable_ascii(out.kek_id)) {
        return malformed("KEK id is not printable ASCII");
    }
    std::size_t wrapped_len = 0;
    ByteView wrapped;
    if (!r.u16(wrapped_len) || wrapped_len == 0 || wrapped_len > kMaxWrappedLength) {
        return malformed("wrapped key length missing or out of range");
    }
    if (!r.take(wrapped_len, wrapped)) {
        return malformed("truncated inside the wrapped key");
    }
    if (r.remaining() != 0) {
        return malformed("trailing bytes after the wrapped key");
    }
    out.wrapped.assign(wrapped.begin(), wrapped.end());
    return out;
}

Result<WrappedKeyFile> WrappedKeyFile::read(const std::filesystem::path& path) {
    auto fd = detail::open_regular_readonly(path, "key file");
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    // Read one byte more than the limit so an oversized file is seen as such.
    auto bytes = detail::read_prefix(*fd, kMaxFileSize + 1, path);
    if (!bytes) {
        return tl::unexpected(bytes.error());
    }
    auto parsed = parse(*bytes);
    if (!parsed) {
        return tl::unexpected(parsed.error().wrap(path.string()));
    }
    return parsed;
}

Result<void> WrappedKeyFile::write_new(const std::filesystem::path& path) const {
    auto bytes = encode();
    if (!bytes) {
        return tl::unexpected(bytes.error());
    }
    auto fd = detail::create_exclusive(path, "key file");
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    auto written = detail::write_all_and_sync(*fd, *bytes, path);
    if (written) {
        written = fd->close();
    }
    if (written) {
        written = detail::sync_parent_dir(path);
    }
    if (!written) {
        ::unlink(path.c_str());
        return written;
    }
    return {};
}

Result<void> WrappedKeyFile::replace(const std::filesystem::path& path) const {
    auto bytes = encode();
    if (!bytes) {
        return tl::unexpected(bytes.error());
    }
    {
        auto existing = detail::open_regular_readonly(path, "key file");
        if (!existing) {
            return tl::unexpected(existing.error());
        }
    }
    std::string tmpl = path.string() + ".tmp-XXXXXX";
    // mkstemp creates the file with mode 0600 and O_EXCL.
    detail::UniqueFd fd(::mkstemp(tmpl.data()));
    if (!fd.valid()) {
        return fail(Errc::io_error, detail::errno_context("cannot create temporary file beside", path, errno));
    }
    const std::filesystem::path tmp(tmpl);
    auto done = detail::write_all_and_sync(fd, *bytes, tmp);
    if (done) {
        done = fd.close();
    }
    if (done && ::rename(tmp.c_str(), path.c_str()) != 0) {
        done = fail(Errc::io_error, detail::errno_context("cannot rename over", path, errno));
    }
    if (!done) {
        ::unlink(tmp.c_str());
        return done;
    }
    return detail::sync_parent_dir(path);
}

}  // namespace enclave::crypto
