// SPDX-License-Identifier: Apache-2.0
#include "der.hpp"

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace enclave::archive::der {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

void append(Bytes& out, ByteView v) { out.insert(out.end(), v.begin(), v.end()); }

void append_length(Bytes& out, std::size_t n) {
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
        return;
    }
    std::uint8_t buf[sizeof(std::size_t)];
    int len = 0;
    for (std::size_t v = n; v != 0; v >>= 8) buf[len++] = static_cast<std::uint8_t>(v & 0xff);
    out.push_back(static_cast<std::uint8_t>(0x80 | len));
    while (len > 0) out.push_back(buf[--len]);
}

// Divides the decimal digit string `digits` by 128 in place; returns the remainder.
unsigned div128(std::string& digits) {
    std::string quotient;
    unsigned rem = 0;
    for (char c : digits) {
        rem = rem * 10 + static_cast<unsigned>(c - '0');
        const unsigned q = rem / 128;
        rem %= 128;
        if (!quotient.empty() || q != 0) quotient.push_back(static_cast<char>('0' + q));
    }
    digits = quotient;
    return rem;
}

// Base-128 encoding of a decimal arc of any size.
void append_arc(Bytes& out, std::string digits) {
    std::vector<std::uint8_t> groups;
    do {
        groups.push_back(static_cast<std::uint8_t>(div128(digits)));
    } while (!digits.empty());
    for (std::size_t i = groups.size(); i-- > 0;) {
        out.push_back(static_cast<std::uint8_t>(groups[i] | (i != 0 ? 0x80 : 0)));
    }
}

}  // namespace

Bytes tlv(std::uint8_t tag, ByteView content) {
    Bytes out;
    out.reserve(content.size() + 6);
    out.push_back(tag);
    append_length(out, content.size());
    append(out, content);
    return out;
}

Bytes constructed(std::uint8_t tag, std::initializer_list<ByteView> parts) {
    Bytes body;
    for (const auto& p : parts) append(body, p);
    return tlv(tag, body);
}

Bytes constructed(std::uint8_t tag, const std::vector<Bytes>& parts) {
    Bytes body;
    for (const auto& p : parts) append(body, p);
    return tlv(tag, body);
}

Bytes set_of(std::vector<Bytes> elements) {
    // X.690 11.6: ascending order of the encodings, the shorter one padded
    // with trailing zero octets; lexicographic order gives the same result
    // except that a prefix sorts first, which the padding rule also does.
    std::sort(elements.begin(), elements.end());
    return constructed(kSet, elements);
}

Bytes unsigned_integer(ByteView magnitude) {
    std::size_t start = 0;
    while (start + 1 < magnitude.size() && magnitude[start] == 0) ++start;
    Bytes content;
    if (magnitude.empty()) {
        content.push_back(0);
    } else {
        if ((magnitude[start] & 0x80) != 0) content.push_back(0);
        append(content, magnitude.subspan(start));
    }
    return tlv(kInteger, content);
}

Bytes small_integer(std::uint8_t value) { return unsigned_integer(ByteView(&value, 1)); }

Bytes octet_string(ByteView value) { return tlv(kOctetString, value); }

Bytes generalized_time(std::chrono::sys_seconds t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
    return tlv(kGeneralizedTime, crypto::as_bytes(std::string_view(buf, n)));
}

Bytes oid(std::string_view dotted) {
    std::vector<std::string> arcs;
    std::size_t pos = 0;
    while (true) {
        const std::size_t dot = dotted.find('.', pos);
        const std::string_view arc = dotted.substr(pos, dot - pos);
        if (arc.empty() || !std::all_of(arc.begin(), arc.end(),
                                        [](char c) { return c >= '0' && c <= '9'; })) {
            throw std::invalid_argument("malformed OID literal");
        }
        arcs.emplace_back(arc);
        if (dot == std::string_view::npos) break;
        pos = dot + 1;
    }
    if (arcs.size() < 2 || arcs[0].size() != 1 || arcs[0][0] > '2') {
        throw std::invalid_argument("malformed OID literal");
    }
    // The first two arcs share one subidentifier: 40 * a + b (b may be large under 2).
    std::string first = arcs[1];
    const unsigned add = 40u * static_cast<unsigned>(arcs[0][0] - '0');
    {
        // Decimal addition of `add` to the string.
        std::string sum;
        unsigned carry = add;
        for (std::size_t i = first.size(); i-- > 0;) {
            const unsigned d = static_cast<unsigned>(first[i] - '0') + carry;
            sum.insert(sum.begin(), static_cast<char>('0' + d % 10));
            carry = d / 10;
        }
        while (carry != 0) {
            sum.insert(sum.begin(), static_cast<char>('0' + carry % 10));
            carry /= 10;
        }
        first = sum;
    }
    Bytes content;
    append_arc(content, first);
    for (std::size_t i = 2; i < arcs.size(); ++i) append_arc(content, arcs[i]);
    return tlv(kOid, content);
}

// ---- reader ----------------------------------------------------------------

std::optional<std::uint8_t> Reader::peek() const noexcept {
    if (rest_.empty()) return std::nullopt;
    return rest_[0];
}

Result<Tlv> Reader::next(std::string_view what) {
    const auto bad = [&](std::string_view why) {
        return fail(Errc::malformed_input, std::string(what) + ": " + std::string(why));
    };
    if (rest_.size() < 2) return bad("truncated");
    const std::uint8_t tag = rest_[0];
    if ((tag & 0x1f) == 0x1f) return bad("multi-byte tag");
    std::size_t len = rest_[1];
    std::size_t header = 2;
    if (len == 0x80) return bad("indefinite length");
    if (len > 0x80) {
        const std::size_t n = len & 0x7f;
        if (n > 4) return bad("length too large");
        if (rest_.size() < 2 + n) return bad("truncated length");
        len = 0;
        for (std::size_t i = 0; i < n; ++i) len = (len << 8) | rest_[2 + i];
        if (rest_[2] == 0 || len < 0x80) return bad("non-minimal length");
        header += n;
    }
    if (rest_.size() - header < len) return bad("truncated");
    Tlv out{tag, rest_.subspan(header, len), rest_.subspan(0, header + len)};
    rest_ = rest_.subspan(header + len);
    return out;
}

Result<Tlv> Reader::expect(std::uint8_t tag, std::string_view what) {
    auto t = next(what);
    if (!t) return t;
    if (t->tag != tag) return fail(Errc::malformed_input, std::string(what) + ": unexpected tag");
    return t;
}

Result<void> Reader::finish(std::string_view what) const {
    if (!rest_.empty()) return fail(Errc::malformed_input, std::string(what) + ": trailing data");
    return {};
}

Result<Tlv> parse_one(ByteView data, std::uint8_t tag, std::string_view what) {
    Reader r(data);
    auto t = r.expect(tag, what);
    if (!t) return t;
    if (auto ok = r.finish(what); !ok) return tl::unexpected(ok.error());
    return t;
}

Result<std::string> oid_text(ByteView content) {
    if (content.empty() || (content.back() & 0x80) != 0) {
        return fail(Errc::malformed_input, "OID: truncated");
    }
    std::string out;
    std::uint64_t v = 0;
    bool first = true;
    for (std::size_t i = 0; i < content.size(); ++i) {
        if (v == 0 && content[i] == 0x80) return fail(Errc::malformed_input, "OID: non-minimal");
        if (v > (UINT64_MAX >> 7)) {
            // Arcs beyond 64 bits (UUID arcs) are compared as raw bytes by
            // callers; as text they only appear in messages.
            return std::string("(long OID)");
        }
        v = (v << 7) | (content[i] & 0x7f);
        if ((content[i] & 0x80) != 0) continue;
        if (first) {
            const std::uint64_t a = v < 80 ? v / 40 : 2;
            out = std::to_string(a) + "." + std::to_string(v - 40 * a);
            first = false;
        } else {
            out += "." + std::to_string(v);
        }
        v = 0;
    }
    return out;
}

Result<Bytes> unsigned_integer_value(ByteView content) {
    if (content.empty()) return fail(Errc::malformed_input, "INTEGER: empty");
    if ((content[0] & 0x80) != 0) return fail(Errc::malformed_input, "INTEGER: negative");
    if (content.size() > 1 && content[0] == 0 && (content[1] & 0x80) == 0) {
        return fail(Errc::malformed_input, "INTEGER: non-minimal");
    }
    std::size_t start = content.size() > 1 && content[0] == 0 ? 1 : 0;
    return Bytes(content.begin() + static_cast<std::ptrdiff_t>(start), content.end());
}

Result<std::uint32_t> small_integer_value(ByteView content) {
    auto mag = unsigned_integer_value(content);
    if (!mag) return tl::unexpected(mag.error());
    if (mag->size() > 4) return fail(Errc::malformed_input, "INTEGER: too large");
    std::uint32_t v = 0;
    for (auto b : *mag) v = (v << 8) | b;
    return v;
}

Result<std::chrono::sys_seconds> generalized_time_value(ByteView content) {
    const std::string_view s(reinterpret_cast<const char*>(content.data()), content.size());
    if (s.size() < 15 || s.back() != 'Z' ||
        !std::all_of(s.begin(), s.begin() + 14, [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(Errc::malformed_input, "GeneralizedTime: not YYYYMMDDHHMMSS[.f]Z");
    }
    if (s.size() > 15) {
        const std::string_view frac = s.substr(14, s.size() - 15);
        if (frac.size() < 2 || frac[0] != '.' ||
            !std::all_of(frac.begin() + 1, frac.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return fail(Errc::malformed_input, "GeneralizedTime: bad fraction");
        }
    }
    const auto num = [&](std::size_t pos, std::size_t n) {
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) v = v * 10 + (s[pos + i] - '0');
        return v;
    };
    using namespace std::chrono;
    const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(4, 2))},
                             day{static_cast<unsigned>(num(6, 2))}};
    const int hh = num(8, 2), mm = num(10, 2), ss = num(12, 2);
    if (!ymd.ok() || hh > 23 || mm > 59 || ss > 59) {
        return fail(Errc::malformed_input, "GeneralizedTime: out of range");
    }
    return sys_days(ymd) + hours(hh) + minutes(mm) + seconds(ss);
}

// ---- algorithm identifiers -------------------------------------------------

namespace {
const char* hash_oid(crypto::HashAlg alg) {
    switch (alg) {
        case crypto::HashAlg::sha256: return "2.16.840.1.101.3.4.2.1";
        case crypto::HashAlg::sha384: return "2.16.840.1.101.3.4.2.2";
        case crypto::HashAlg::sha512: return "2.16.840.1.101.3.4.2.3";
        case crypto::HashAlg::sha3_256: return "2.16.840.1.101.3.4.2.8";
    }
    return "";
}
}  // namespace

Bytes hash_algorithm_id(crypto::HashAlg alg) { return constructed(kSequence, {oid(hash_oid(alg))}); }

Result<crypto::HashAlg> hash_algorithm_from(ByteView alg_id_content) {
    Reader r(alg_id_content);
    auto id = r.expect(kOid, "AlgorithmIdentifier");
    if (!id) return tl::unexpected(id.error());
    if (!r.done()) {
        auto params = r.expect(kNull, "AlgorithmIdentifier parameters");
        if (!params) return tl::unexpected(params.error());
        if (!params->content.empty()) return fail(Errc::malformed_input, "AlgorithmIdentifier: NULL");
        if (auto ok = r.finish("AlgorithmIdentifier"); !ok) return tl::unexpected(ok.error());
    }
    for (auto alg : {crypto::HashAlg::sha256, crypto::HashAlg::sha384, crypto::HashAlg::sha512}) {
        static thread_local Bytes cache[3];
        Bytes& enc = cache[static_cast<int>(alg)];
        if (enc.empty()) enc = oid(hash_oid(alg));
        if (std::equal(enc.begin(), enc.end(), id->whole.begin(), id->whole.end())) return alg;
    }
    auto text = oid_text(id->content);
    return fail(Errc::unsupported_algorithm,
                "digest algorithm " + (text ? *text : std::string("(unreadable)")));
}

}  // namespace enclave::archive::der
