// SPDX-License-Identifier: Apache-2.0
// enclavectl audit ...: re-verification, checkpoints, proofs, export
// (through the daemon) and verify (offline: no daemon, no token).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "appliance/ctl.hpp"
#include "audit/bundle.hpp"
#include "audit/progress.hpp"
#include "audit/signed_note.hpp"
#include "crypto/encoding.hpp"
#include "ctl_input.hpp"

namespace enclave::appliance::ctl {

using crypto::Errc;
using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) { return field_text(j, key, 4096); }

int dump_or(const Globals& g, const json& out, const std::function<void()>& human) {
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        human();
    }
    return kExitOk;
}

void print_hashes(const json& out, const char* key) {
    for (const json& h : out.value(key, json::array())) {
        std::cout << "  " << printable(h.is_string() ? h.get<std::string>() : "?") << "\n";
    }
}

/// A small text file (a key or a checkpoint), at most 64 KiB.
crypto::Result<std::string> read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return crypto::fail(Errc::not_found, "cannot read " + path);
    std::string out;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        out.append(buf, static_cast<std::size_t>(in.gcount()));
        if (out.size() > 64 * 1024) return crypto::fail(Errc::too_large, path + ": over 64 KiB");
    }
    return out;
}

/// --key: a file that holds a verifier key string (one line), or the string
/// itself (a key string may contain '/', so the file is looked for first).
crypto::Result<audit::NoteVerifierKey> load_key(const std::string& key) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(key, ec)) {
        auto parsed = audit::NoteVerifierKey::parse(key);
        if (!parsed) {
            return tl::unexpected(parsed.error().wrap(
                "--key is neither a readable file nor a verifier key string"));
        }
        return parsed;
    }
    auto text = read_small_file(key);
    if (!text) return tl::unexpected(text.error());
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
    auto parsed = audit::NoteVerifierKey::parse(*text);
    if (!parsed) return tl::unexpected(parsed.error().wrap("key file " + key));
    return parsed;
}

}  // namespace

int audit_reverify(const Globals& g, const std::string& reference, std::uint64_t field,
                   const std::string& input) {
    auto body = detail::read_input(input, 64 * 1024);
    if (!body) return report_error(g, body.error());
    json out;
    const std::string target =
        "/v1/audit/reverify?" + query({{"reference", reference}, {"field", std::to_string(field)}});
    if (int rc = call(g, "POST", target, detail::text_of(*body), out); rc != kExitOk) return rc;
    const bool matched = out.value("result", "") == "match";
    dump_or(g, out, [&] {
        if (matched) {
            std::cout << "match: field " << field << " of " << printable(reference)
                      << " has this value and salt.\n"
                      << "review " << text(out, "review_id") << " open until "
                      << text(out, "review_expires")
                      << " (enclavectl audit review ID shows the value to you only)\n";
        } else {
            std::cout << "mismatch: the value and salt do not give the recorded hash of field "
                      << field << " of " << printable(reference) << ". Nothing was kept.\n";
        }
    });
    return matched ? kExitOk : kExitMismatch;
}

int audit_review(const Globals& g, const std::string& review_id, bool discard) {
    json out;
    const std::string q = query({{"id", review_id}});
    if (discard) {
        if (int rc = call(g, "POST", "/v1/audit/review/discard?" + q, {}, out); rc != kExitOk) {
            return rc;
        }
        return dump_or(g, out, [&] { std::cout << "review " << printable(review_id) << " ended\n"; });
    }
    if (int rc = call(g, "GET", "/v1/audit/review?" + q, {}, out); rc != kExitOk) return rc;
    dump_or(g, out, [&] {
        std::cout << text(out, "reference") << " field " << text(out, "field") << " ("
                  << text(out, "formatName") << "), visible until " << text(out, "expires")
                  << ":\n  " << text(out, "value") << "\n";
    });
    detail::wipe_json(out);
    return kExitOk;
}

int audit_checkpoint(const Globals& g, bool make_new) {
    json out;
    if (int rc = call(g, make_new ? "POST" : "GET", "/v1/audit/checkpoint", {}, out);
        rc != kExitOk) {
        return rc;
    }
    // The note is printed as it is (a file an auditor keeps), after checking
    // it is a well-formed signed note (UTF-8, no control character but "\n").
    const std::string note = out.value("note", "");
    if (auto parsed = audit::parse_note(note); !parsed) {
        return report_error(g, parsed.error().wrap("the daemon's checkpoint"));
    }
    return dump_or(g, out, [&] { std::cout << note; });
}

int audit_key(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/audit/key", {}, out); rc != kExitOk) return rc;
    return dump_or(g, out, [&] { std::cout << text(out, "verifier_key") << "\n"; });
}

int audit_proof_inclusion(const Globals& g, std::uint64_t index, std::optional<std::uint64_t> size) {
    json out;
    std::string q = query({{"index", std::to_string(index)}});
    if (size) q += "&" + query({{"size", std::to_string(*size)}});
    if (int rc = call(g, "GET", "/v1/audit/proof/inclusion?" + q, {}, out); rc != kExitOk) return rc;
    return dump_or(g, out, [&] {
        std::cout << "entry " << text(out, "index") << " in the tree of size " << text(out, "size")
                  << "\nleaf hash " << text(out, "leaf_hash") << "\nroot      "
                  << text(out, "root") << "\nproof:\n";
        print_hashes(out, "proof");
    });
}

int audit_proof_consistency(const Globals& g, std::uint64_t old_size,
                            std::optional<std::uint64_t> new_size) {
    json out;
    std::string q = query({{"old", std::to_string(old_size)}});
    if (new_size) q += "&" + query({{"new", std::to_string(*new_size)}});
    if (int rc = call(g, "GET", "/v1/audit/proof/consistency?" + q, {}, out); rc != kExitOk) {
        return rc;
    }
    return dump_or(g, out, [&] {
        std::cout << "size " << text(out, "old") << " (root " << text(out, "old_root")
                  << ") -> size " << text(out, "new") << " (root " << text(out, "new_root")
                  << ")\nproof:\n";
        print_hashes(out, "proof");
    });
}

int audit_export(const Globals& g, const std::string& out_path, bool overwrite) {
    json key_info, latest, all;
    if (int rc = call(g, "GET", "/v1/audit/key", {}, key_info); rc != kExitOk) return rc;
    auto key = audit::NoteVerifierKey::parse(key_info.value("verifier_key", ""));
    if (!key) return report_error(g, key.error().wrap("the daemon's audit key"));
    // A fresh checkpoint, so the bundle covers every entry made so far.
    if (int rc = call(g, "POST", "/v1/audit/checkpoint", {}, latest); rc != kExitOk) return rc;
    if (int rc = call(g, "GET", "/v1/audit/checkpoints", {}, all); rc != kExitOk) return rc;
    const std::uint64_t size = latest.value("size", std::uint64_t{0});
    std::vector<std::string> older;
    for (const json& c : all.value("checkpoints", json::array())) {
        if (c.value("size", std::uint64_t{0}) < size) older.push_back(c.value("note", ""));
    }
    audit::BundleWriter::Options wo;
    wo.overwrite = overwrite;
    auto writer = audit::BundleWriter::create(out_path, *key, latest.value("note", ""), older, wo);
    if (!writer) return report_error(g, writer.error());
    auto progress = audit::terminal_progress("exporting");
    while (writer->appended() < size) {
        json page;
        const std::string q = query({{"first", std::to_string(writer->appended())},
                                     {"count", std::to_string(size - writer->appended())}});
        if (int rc = call(g, "GET", "/v1/audit/entries?" + q, {}, page); rc != kExitOk) return rc;
        const json& entries = page.value("entries", json::array());
        if (entries.empty()) {
            return report_error(g, "integrity_failure", "the daemon returned no entries at " +
                                                            std::to_string(writer->appended()));
        }
        for (const json& e : entries) {
            if (writer->appended() == size) break;
            if (!e.is_string()) return report_error(g, "malformed_input", "an entry is not a string");
            if (auto ok = writer->append(e.get<std::string>()); !ok) return report_error(g, ok.error());
        }
        progress(writer->appended(), size);
    }
    if (auto ok = writer->commit(); !ok) return report_error(g, ok.error());
    json result{{"file", out_path}, {"entries", size}, {"root", latest.value("root", "")},
                {"verifier_key", key->to_string()}, {"checkpoints", older.size() + 1}};
    return dump_or(g, result, [&] {
        std::cout << "exported " << size << " entries to " << out_path << "\n  root "
                  << text(latest, "root") << "\n  key  " << key->to_string() << "\n"
                  << "verify offline with: enclavectl audit verify " << out_path
                  << " --key '" << key->to_string() << "'\n";
    });
}

int audit_verify(const Globals& g, const std::string& bundle, const std::string& key,
                 const std::string& since_checkpoint) {
    audit::VerifyOptions o;
    if (!key.empty()) {
        auto k = load_key(key);
        if (!k) return report_error(g, k.error());
        o.pinned_key = std::move(*k);
    }
    if (!since_checkpoint.empty()) {
        auto note = read_small_file(since_checkpoint);
        if (!note) return report_error(g, note.error());
        o.since_checkpoint = std::move(*note);
    }
    o.progress = audit::terminal_progress("verifying");
    auto report = audit::verify_bundle(bundle, o);
    if (!report) {
        const int code = report.error().code() == Errc::integrity_failure ? kExitMismatch
                                                                           : kExitFailure;
        return report_error(g, crypto::errc_name(report.error().code()),
                            "bundle does not verify: " + report.error().context(), code);
    }
    json out{{"verified", true},
             {"origin", report->origin},
             {"entries", report->entries},
             {"root", crypto::hex_encode(report->root)},
             {"key", report->key},
             {"key_pinned", report->key_pinned},
             {"checkpoints_checked", report->checkpoints_checked},
             {"seconds", report->elapsed.count()}};
    if (report->since_size) out["since_size"] = *report->since_size;
    // describe() says when the bundle's own key was used (not pinned).
    return dump_or(g, out, [&] { std::cout << audit::describe(*report); });
}

}  // namespace enclave::appliance::ctl
