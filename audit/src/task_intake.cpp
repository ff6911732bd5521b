// SPDX-License-Identifier: Apache-2.0
// Task intake: strict JSON reading (task_json.hpp) first, then every rule in
// document order, then the D.4 check per field (docs/tasks.md).
#include <optional>

#include "audit/task.hpp"
#include "audit/task_format.hpp"
#include "crypto/encoding.hpp"
#include "task_json.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Result;
using crypto::Secret;
using detail::JsonReader;

constexpr std::size_t kMaxFormatName = 64;
constexpr std::size_t kMaxAlgorithmName = 32;
constexpr std::size_t kMaxHashHex = 128;  // SHA-512
constexpr std::size_t kMaxTimeText = 40;

/// A field as read, before any rule is applied.
struct RawField {
    std::optional<std::string> format_name;
    std::optional<Secret> value;
    std::optional<Secret> salt_hex;
    std::optional<std::string> hash_hex;
    std::optional<std::string> algorithm;
};

struct RawTask {
    std::optional<std::string> reference;
    std::optional<std::string> kind;
    std::optional<std::string> start;
    std::optional<std::string> end;
    std::optional<std::string> endpoint;
    std::optional<std::vector<RawField>> fields;
};

crypto::Error at(const std::string& path, const crypto::Error& e) { return e.wrap(path); }

template <class T>
tl::unexpected<crypto::Error> fail_at(const std::string& path, const Result<T>& r) {
    return tl::unexpected(at(path, r.error()));
}

tl::unexpected<crypto::Error> unknown_member(const std::string& where, std::string_view allowed) {
    // The name is not echoed: it is free text from the request.
    return crypto::fail(Errc::malformed_input, where + ": unknown member (allowed: " + std::string(allowed) + ")");
}

tl::unexpected<crypto::Error> duplicate_member(const std::string& path) {
    return crypto::fail(Errc::malformed_input, path + ": duplicate member");
}

/// Reads a string member into `slot`; refuses a second occurrence.
template <class T, class Read>
Result<void> read_once(std::optional<T>& slot, const std::string& path, Read read) {
    if (slot) return duplicate_member(path);
    auto v = read();
    if (!v) return fail_at(path, v);
    slot.emplace(std::move(*v));
    return {};
}

Result<RawField> read_field(JsonReader& r, const std::string& path) {
    RawField f;
    if (auto ok = r.begin_object(); !ok) return fail_at(path, ok);
    while (true) {
        auto name = r.next_member();
        if (!name) return fail_at(path, name);
        if (!*name) break;
        const std::string& n = **name;
        const std::string p = path + "." + n;
        Result<void> ok;
        if (n == "formatName") {
            ok = read_once(f.format_name, p, [&] { return r.read_string(kMaxFormatName); });
        } else if (n == "value") {
            ok = read_once(f.value, p, [&] { return r.read_secret_string(crypto::kMaxSaltedValueBytes); });
        } else if (n == "salt") {
            ok = read_once(f.salt_hex, p, [&] { return r.read_secret_string(2 * crypto::kMaxSaltBytes); });
        } else if (n == "hash") {
            ok = read_once(f.hash_hex, p, [&] { return r.read_string(kMaxHashHex); });
        } else if (n == "algorithm") {
            ok = read_once(f.algorithm, p, [&] { return r.read_string(kMaxAlgorithmName); });
        } else {
            return unknown_member(path, "formatName, value, salt, hash, algorithm");
        }
        if (!ok) return tl::unexpected(ok.error());
    }
    return f;
}

Result<std::vector<RawField>> read_fields(JsonReader& r) {
    std::vector<RawField> fields;
    if (auto ok = r.begin_array(); !ok) return fail_at("fields", ok);
    while (true) {
        auto more = r.next_element();
        if (!more) return fail_at("fields", more);
        if (!*more) break;
        if (fields.size() == kMaxTaskFields) {
            return crypto::fail(Errc::too_large, "fields: more than " + std::to_string(kMaxTaskFields));
        }
        auto f = read_field(r, "fields[" + std::to_string(fields.size()) + "]");
        if (!f) return tl::unexpected(f.error());
        fields.push_back(std::move(*f));
    }
    return fields;
}

Result<RawTask> read_task(JsonReader& r) {
    RawTask t;
    if (auto ok = r.begin_object(); !ok) return fail_at("task", ok);
    while (true) {
        auto name = r.next_member();
        if (!name) return fail_at("task", name);
        if (!*name) break;
        const std::string& n = **name;
        Result<void> ok;
        if (n == "reference") {
            ok = read_once(t.reference, n, [&] { return r.read_string(kMaxReferenceBytes); });
        } else if (n == "kind") {
            ok = read_once(t.kind, n, [&] { return r.read_string(8); });
        } else if (n == "start") {
            ok = read_once(t.start, n, [&] { return r.read_string(kMaxTimeText); });
        } else if (n == "end") {
            ok = read_once(t.end, n, [&] { return r.read_string(kMaxTimeText); });
        } else if (n == "endpoint") {
            ok = read_once(t.endpoint, n, [&] { return r.read_string(64); });
        } else if (n == "fields") {
            if (t.fields) return duplicate_member(n);
            auto fields = read_fields(r);  // its errors carry their own path
            if (!fields) return tl::unexpected(fields.error());
            t.fields.emplace(std::move(*fields));
        } else {
            return unknown_member("task", "reference, kind, start, end, endpoint, fields");
        }
        if (!ok) return tl::unexpected(ok.error());
    }
    if (auto ok = r.finish(); !ok) return fail_at("task", ok);
    return t;
}

tl::unexpected<crypto::Error> missing(const std::string& path) {
    return crypto::fail(Errc::malformed_input, path + ": missing");
}

Result<void> check_top(const RawTask& raw, TaskIntake& t) {
    if (!raw.reference) return missing("reference");
    if (!raw.kind) return missing("kind");
    if (!raw.start) return missing("start");
    if (!raw.end) return missing("end");
    if (!raw.fields) return missing("fields");
    const auto kind = task_kind_from_name(*raw.kind);
    if (!kind) return crypto::fail(Errc::invalid_argument, "kind: must be \"LI\" or \"LD\"");
    t.kind = *kind;
    if (auto ok = check_reference(*kind, *raw.reference); !ok) return fail_at("reference", ok);
    t.reference = *raw.reference;
    auto start = parse_utc_time(*raw.start);
    if (!start) return fail_at("start", start);
    auto end = parse_utc_time(*raw.end);
    if (!end) return fail_at("end", end);
    if (*end <= *start) return crypto::fail(Errc::invalid_argument, "end: must be after start");
    t.start = *start;
    t.end = *end;
    if (raw.endpoint) {
        if (!is_valid_endpoint_name(*raw.endpoint)) {
            return crypto::fail(Errc::invalid_argument, "endpoint: must match [a-z0-9][a-z0-9-]{0,62}");
        }
        t.endpoint = *raw.endpoint;
    }
    if (raw.fields->empty()) return crypto::fail(Errc::invalid_argument, "fields: at least one field is required");
    return {};
}

std::string supported_formats_text() {
    std::string out;
    for (std::string_view n : supported_format_names()) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

Result<void> check_format(const std::string& path, const std::string& format_name, std::string_view value) {
    if (!is_supported_format(format_name)) {
        return crypto::fail(Errc::invalid_argument,
                            path + ".formatName: unsupported format type; supported: " + supported_formats_text());
    }
    if (!value_matches_format(format_name, value)) {
        return crypto::fail(Errc::invalid_argument, path + ".value: not a valid " + format_name);
    }
    return {};
}

/// Salt and hash lengths, then the D.4 check (constant time).
Result<void> check_salted_hash(const std::string& path, crypto::SaltedHashAlg alg, crypto::ByteView salt,
                               std::string_view value, crypto::ByteView hash) {
    if (salt.size() < crypto::kMinSaltBytes) {
        return crypto::fail(Errc::salt_too_short, path + ".salt: " + std::to_string(salt.size()) +
                                                      " bytes; at least " + std::to_string(crypto::kMinSaltBytes) +
                                                      " are required");
    }
    if (salt.size() > crypto::kMaxSaltBytes) {
        return crypto::fail(Errc::too_large,
                            path + ".salt: longer than " + std::to_string(crypto::kMaxSaltBytes) + " bytes");
    }
    if (hash.size() != crypto::salted_hash_size(alg)) {
        return crypto::fail(Errc::invalid_argument,
                            path + ".hash: " + std::to_string(hash.size()) + " bytes; " +
                                std::string(crypto::salted_hash_name(alg)) + " gives " +
                                std::to_string(crypto::salted_hash_size(alg)));
    }
    auto ok = crypto::verify_salted_hash(alg, salt, value, hash);
    if (!ok && ok.error().code() == Errc::hash_mismatch) {
        return crypto::fail(Errc::hash_mismatch, path + ".hash: does not match the salted hash of the value");
    }
    if (!ok) return fail_at(path, ok);
    return {};
}

Result<IntakeField> check_field(RawField& raw, const std::string& path) {
    for (auto [present, name] : {std::pair{raw.format_name.has_value(), "formatName"},
                                 std::pair{raw.value.has_value(), "value"},
                                 std::pair{raw.salt_hex.has_value(), "salt"},
                                 std::pair{raw.hash_hex.has_value(), "hash"},
                                 std::pair{raw.algorithm.has_value(), "algorithm"}}) {
        if (!present) return missing(path + "." + name);
    }
    if (auto ok = check_format(path, *raw.format_name, secret_text(*raw.value)); !ok) return tl::unexpected(ok.error());
    const auto alg = crypto::salted_hash_from_name(*raw.algorithm);
    if (!alg) {
        // The offered name is not echoed.
        return crypto::fail(Errc::unsupported_algorithm, path + ".algorithm: unsupported; supported: " +
                                                             std::string(crypto::salted_hash_supported_names()));
    }
    auto salt = crypto::hex_decode_secret(secret_text(*raw.salt_hex));
    if (!salt) return fail_at(path + ".salt", salt);
    auto hash = crypto::hex_decode(*raw.hash_hex);
    if (!hash) return fail_at(path + ".hash", hash);
    if (auto ok = check_salted_hash(path, *alg, salt->view(), secret_text(*raw.value), *hash); !ok) {
        return tl::unexpected(ok.error());
    }
    IntakeField f;
    f.format_name = std::move(*raw.format_name);
    f.algorithm = *alg;
    f.value = std::move(*raw.value);
    f.salt = std::move(*salt);
    f.hash = std::move(*hash);
    return f;
}

}  // namespace

Result<TaskIntake> parse_task(std::string_view json) {
    if (json.size() > kMaxTaskJsonBytes) {
        return crypto::fail(Errc::too_large, "task: " + std::to_string(json.size()) + " bytes; the limit is " +
                                                 std::to_string(kMaxTaskJsonBytes));
    }
    if (!crypto::is_valid_utf8(json)) return crypto::fail(Errc::malformed_input, "task: not valid UTF-8");
    JsonReader reader(json);
    auto raw = read_task(reader);
    if (!raw) return tl::unexpected(raw.error());
    TaskIntake task;
    if (auto ok = check_top(*raw, task); !ok) return tl::unexpected(ok.error());
    task.fields.reserve(raw->fields->size());
    for (std::size_t i = 0; i < raw->fields->size(); ++i) {
        auto f = check_field((*raw->fields)[i], "fields[" + std::to_string(i) + "]");
        if (!f) return tl::unexpected(f.error());
        task.fields.push_back(std::move(*f));
    }
    return task;
}

Result<void> check_intake(const TaskIntake& t) {
    if (auto ok = check_reference(t.kind, t.reference); !ok) return fail_at("reference", ok);
    if (t.end <= t.start) return crypto::fail(Errc::invalid_argument, "end: must be after start");
    if (t.endpoint && !is_valid_endpoint_name(*t.endpoint)) {
        return crypto::fail(Errc::invalid_argument, "endpoint: must match [a-z0-9][a-z0-9-]{0,62}");
    }
    if (t.fields.empty()) return crypto::fail(Errc::invalid_argument, "fields: at least one field is required");
    if (t.fields.size() > kMaxTaskFields) {
        return crypto::fail(Errc::too_large, "fields: more than " + std::to_string(kMaxTaskFields));
    }
    for (std::size_t i = 0; i < t.fields.size(); ++i) {
        const IntakeField& f = t.fields[i];
        const std::string path = "fields[" + std::to_string(i) + "]";
        if (auto ok = check_format(path, f.format_name, secret_text(f.value)); !ok) return ok;
        if (auto ok = check_salted_hash(path, f.algorithm, f.salt.view(), secret_text(f.value), f.hash); !ok) {
            return ok;
        }
    }
    return {};
}

Result<TaskIntake> parse_task_and_wipe(crypto::MutableByteView body) {
    auto r = parse_task(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
    crypto::wipe(body);
    return r;
}

Result<ReverifyInput> parse_reverify_input(std::string_view json) {
    constexpr std::size_t kMaxBody = 4 * (crypto::kMaxSaltedValueBytes + crypto::kMaxSaltBytes);
    if (json.size() > kMaxBody) {
        return crypto::fail(Errc::too_large, "re-verification input: over " + std::to_string(kMaxBody) + " bytes");
    }
    if (!crypto::is_valid_utf8(json)) return crypto::fail(Errc::malformed_input, "input: not valid UTF-8");
    JsonReader r(json);
    std::optional<Secret> value;
    std::optional<Secret> salt;
    if (auto ok = r.begin_object(); !ok) return fail_at("input", ok);
    while (true) {
        auto name = r.next_member();
        if (!name) return fail_at("input", name);
        if (!*name) break;
        Result<void> ok;
        if (**name == "value") {
            ok = read_once(value, "value", [&] { return r.read_secret_string(crypto::kMaxSaltedValueBytes); });
        } else if (**name == "salt") {
            ok = read_once(salt, "salt", [&] { return r.read_secret_string(2 * crypto::kMaxSaltBytes); });
        } else {
            return unknown_member("input", "value, salt");
        }
        if (!ok) return tl::unexpected(ok.error());
    }
    if (auto ok = r.finish(); !ok) return fail_at("input", ok);
    if (!value) return missing("value");
    if (!salt) return missing("salt");
    return ReverifyInput{std::move(*value), std::move(*salt)};
}

Result<ReverifyInput> parse_reverify_input_and_wipe(crypto::MutableByteView body) {
    auto r = parse_reverify_input(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
    crypto::wipe(body);
    return r;
}

}  // namespace enclave::audit
