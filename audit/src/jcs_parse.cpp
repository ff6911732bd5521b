// SPDX-License-Identifier: Apache-2.0
// parse_canonical: a strict reader for RFC 8785 text (see audit/jcs.hpp).
//
// nlohmann::json's own DOM parser keeps the last of two equal member names
// and turns large integers into doubles without a word, so the value is
// built here through the SAX interface, which sees every event: duplicates,
// floats and nesting are refused as they arrive. The parser itself is
// iterative (no recursion on nesting) and validates UTF-8 and \u escapes
// (a lone surrogate is a parse error).
#include <optional>
#include <string>
#include <vector>

#include "audit/jcs.hpp"

namespace enclave::audit {
namespace {

using json = nlohmann::json;
using crypto::Errc;
using crypto::Result;

class StrictBuilder final : public nlohmann::json_sax<json> {
public:
    bool null() override { return put(json(nullptr)); }
    bool boolean(bool v) override { return put(json(v)); }
    bool number_integer(number_integer_t v) override { return put(json(v)); }
    bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
    bool number_float(number_float_t /*v*/, const string_t& /*text*/) override {
        // nlohmann also reports integers beyond 64 bits this way.
        return refuse(Errc::malformed_input, "a floating-point or out-of-range number");
    }
    bool string(string_t& v) override { return put(json(std::move(v))); }
    bool binary(binary_t& /*v*/) override {
        return refuse(Errc::malformed_input, "a binary value");
    }
    bool start_object(std::size_t /*elements*/) override { return open(json::object()); }
    bool key(string_t& name) override {
        if (stack_.back()->contains(name)) {
            return refuse(Errc::malformed_input, "a duplicate member name");
        }
        key_ = std::move(name);
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t /*elements*/) override { return open(json::array()); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*ex*/) override {
        // The exception text quotes the input; only the offset is reported.
        if (!error_) {
            error_ = crypto::Error(Errc::malformed_input,
                                   "not valid JSON at byte " + std::to_string(position));
        }
        return false;
    }

    [[nodiscard]] const std::optional<crypto::Error>& error() const noexcept { return error_; }
    [[nodiscard]] json take() { return std::move(root_); }

private:
    bool refuse(Errc code, const std::string& what) {
        if (!error_) error_ = crypto::Error(code, "refused " + what);
        return false;
    }

    /// Where the next value goes: the root, the end of an array, or the
    /// member named by the last key. Pointers into the tree stay valid: a
    /// parent array grows only after its open child has been closed.
    json* slot(json&& v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        json& parent = *stack_.back();
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        return &(parent[key_] = std::move(v));
    }

    bool put(json&& v) {
        slot(std::move(v));
        return true;
    }

    bool open(json&& container) {
        if (stack_.size() + 1 > kJcsMaxDepth) {
            return refuse(Errc::too_large,
                          "nesting deeper than " + std::to_string(kJcsMaxDepth) + " levels");
        }
        stack_.push_back(slot(std::move(container)));
        return true;
    }

    bool close() {
        stack_.pop_back();
        return true;
    }

    json root_;
    std::vector<json*> stack_;
    std::string key_;
    std::optional<crypto::Error> error_;
};

}  // namespace

Result<nlohmann::json> parse_canonical(std::string_view text, std::size_t max_bytes) {
    if (text.size() > max_bytes) {
        return crypto::fail(Errc::too_large, "canonical JSON of " + std::to_string(text.size()) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(max_bytes));
    }
    StrictBuilder builder;
    const bool ok = json::sax_parse(text, &builder, json::input_format_t::json, true);
    if (!ok || builder.error()) {
        if (builder.error()) return tl::unexpected(*builder.error());
        return crypto::fail(Errc::malformed_input, "not valid JSON");
    }
    json value = builder.take();
    auto canonical = canonicalize(value);
    if (!canonical) {
        // Values the parser accepted but canonical JSON cannot hold (an
        // integer beyond 2^53 - 1): the text cannot be canonical.
        return crypto::fail(Errc::malformed_input,
                            "not canonical JSON: " + canonical.error().context());
    }
    if (*canonical != text) {
        std::size_t at = 0;
        while (at < text.size() && at < canonical->size() && text[at] == (*canonical)[at]) ++at;
        return crypto::fail(Errc::malformed_input,
                            "not in RFC 8785 canonical form (first difference at byte " +
                                std::to_string(at) + ")");
    }
    return value;
}

}  // namespace enclave::audit
