// SPDX-License-Identifier: Apache-2.0
// Messages -> LTAP XML. The text is written directly (default namespace,
// two-space indent); every value is checked to be XML text and escaped (CR
// as &#13; so that it survives the parser's line-end normalisation). The
// result then goes through the same parse and validation as a message from
// outside: a message our own XSD or rules refuse is a bug (Errc::internal).
#include <limits>
#include <string>
#include <variant>

#include "crypto/encoding.hpp"
#include "ltap_internal.hpp"

namespace enclave::archive {

using crypto::Errc;
using crypto::fail;
using namespace detail;

namespace {

// UTF-8 made only of XML 1.0 Char code points.
bool is_xml_text(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        std::uint32_t cp = 0;
        std::size_t n = 0;
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1Fu;
            n = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0Fu;
            n = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07u;
            n = 4;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) < n) return false;
        for (std::size_t i = 1; i < n; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n]) return false;  // overlong
        const bool ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                        (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
        if (!ok) return false;
        p += n;
    }
    return true;
}

void escape_into(std::string& out, std::string_view s, bool attribute) {
    for (const char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '\r': out += "&#13;"; break;
            case '"': out += attribute ? "&quot;" : "\""; break;
            case '\t': out += attribute ? "&#9;" : "\t"; break;
            case '\n': out += attribute ? "&#10;" : "\n"; break;
            default: out += c;
        }
    }
}

class Writer {
public:
    explicit Writer(std::string_view root) {
        out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
        out_ += root;
        out_ += " xmlns=\"";
        out_ += kLtapNamespace;
        out_ += "\">\n";
        depth_ = 1;
    }

    void open(std::string_view name) {
        indent();
        out_ += '<';
        out_ += name;
        out_ += ">\n";
        ++depth_;
    }
    void close(std::string_view name) {
        --depth_;
        indent();
        out_ += "</";
        out_ += name;
        out_ += ">\n";
    }
    /// A text element; `field` names it in the error when the value is not XML text.
    void text(std::string_view name, std::string_view value) {
        if (!is_xml_text(value)) {
            fault(name, "is not UTF-8 XML text");
            return;
        }
        leaf_open(name);
        escape_into(out_, value, false);
        leaf_close(name);
    }
    /// A URI: XML text without whitespace (the XSD collapses it otherwise).
    void uri(std::string_view name, std::string_view value) {
        if (value.find_first_of(" \t\r\n") != std::string_view::npos) {
            fault(name, "holds whitespace");
            return;
        }
        text(name, value);
    }
    void item(std::string_view element, const MetaEntry& e) {
        if (!is_xml_text(e.name) || !is_xml_text(e.value)) {
            fault(element, "Item is not UTF-8 XML text");
            return;
        }
        indent();
        out_ += '<';
        out_ += element;
        out_ += " name=\"";
        escape_into(out_, e.name, true);
        out_ += "\">";
        escape_into(out_, e.value, false);
        out_ += "</";
        out_ += element;
        out_ += ">\n";
    }
    void fault(std::string_view name, std::string_view why) {
        if (error_.empty()) error_ = "LTAP render: " + std::string(name) + " " + std::string(why);
    }

    crypto::Result<std::string> finish(std::string_view root) {
        close(root);
        if (!error_.empty()) return fail(Errc::invalid_argument, error_);
        return std::move(out_);
    }

private:
    void indent() { out_.append(static_cast<std::size_t>(depth_) * 2, ' '); }
    void leaf_open(std::string_view name) {
        indent();
        out_ += '<';
        out_ += name;
        out_ += '>';
    }
    void leaf_close(std::string_view name) {
        out_ += "</";
        out_ += name;
        out_ += ">\n";
    }

    std::string out_;
    std::string error_;
    int depth_ = 0;
};

void write_items(Writer& w, std::string_view element, const std::vector<MetaEntry>& items) {
    if (items.empty()) return;
    w.open(element);
    for (const auto& e : items) w.item("Item", e);
    w.close(element);
}

void write_info(Writer& w, const RequestInformation& info) {
    w.open("RequestInformation");
    w.text("Version", info.version);
    if (info.nonce) w.text("Nonce", crypto::hex_encode(*info.nonce));
    if (info.serial_number) w.text("SerialNumber", std::to_string(*info.serial_number));
    if (info.request_time) {
        auto t = format_time(*info.request_time);
        if (t) {
            w.text("RequestTime", *t);
        } else {
            w.fault("RequestTime", "is outside years 0001-9999");
        }
    }
    for (const auto& e : info.request_entities) w.text("RequestEntityIdentifier", e);
    for (const auto& e : info.server_entities) w.text("ServerEntityIdentifier", e);
    w.text("ServiceType", to_string(info.service));
    for (const auto& p : info.policies) w.uri("ServicePolicyInformation", p);
    write_items(w, "ServiceConfiguration", info.configuration);
    w.close("RequestInformation");
}

void write_data(Writer& w, const DataItem& d) {
    w.open("Data");
    if (d.raw_data || d.artifact || d.data_reference) {
        w.open("DataOrTransaction");
        if (d.raw_data) w.text("RawData", crypto::base64_encode(*d.raw_data));
        if (d.artifact) w.text("Artifact", *d.artifact);
        if (d.data_reference) w.uri("DataReference", *d.data_reference);
        w.close("DataOrTransaction");
    }
    write_items(w, "MetaData", d.metadata);
    if (d.imprint) {
        w.open("MessageImprint");
        w.uri("DigestAlgorithm", d.imprint->digest_algorithm);
        w.text("DigestValue", crypto::base64_encode(d.imprint->digest_value));
        w.close("MessageImprint");
    }
    if (d.evidence_record) w.text("EvidenceRecord", crypto::base64_encode(*d.evidence_record));
    w.close("Data");
}

template <class Notice>
void write_notice(Writer& w, std::string_view element, std::string_view prefix, const Notice& n) {
    w.open(element);
    w.text(std::string(prefix) + "Identification", std::to_string(n.id));
    w.text(std::string(prefix) + "Information", n.information);
    w.close(element);
}

// What a parser from outside would say about our own output; anything but
// success is a bug in the caller's message or in this file.
LtapLimits self_check_limits() {
    LtapLimits l;
    l.max_bytes = std::numeric_limits<int>::max();
    l.max_data_items = kMaxLtapDataItems;
    l.max_raw_bytes = std::numeric_limits<std::size_t>::max();
    return l;
}

template <class T>
crypto::Result<std::string> checked(crypto::Result<std::string> xml, const crypto::Result<T>& reparsed) {
    if (!reparsed) {
        return fail(Errc::internal, "LTAP render: the message does not pass its own checks: " +
                                        reparsed.error().message());
    }
    return xml;
}

}  // namespace

crypto::Result<std::string> render_request(const Request& request) {
    Writer w("Request");
    write_info(w, request.info);
    for (const auto& d : request.data) write_data(w, d);
    auto xml = w.finish("Request");
    if (!xml) return xml;
    auto again = parse_request(*xml, self_check_limits());
    return checked(std::move(xml), again);
}

crypto::Result<std::string> render_response(const Response& response) {
    Writer w("Response");
    if (const auto* notice = std::get_if<ErrorNotice>(&response)) {
        write_notice(w, "ErrorNotice", "Error", *notice);
    } else {
        const auto& op = std::get<OperationResponse>(response);
        w.open("OperationResponse");
        write_info(w, op.info);
        for (const auto& d : op.data) write_data(w, d);
        w.text("StatusInformation", to_string(op.status));
        if (op.error) write_notice(w, "GeneralErrorNotice", "GeneralError", *op.error);
        w.close("OperationResponse");
    }
    auto xml = w.finish("Response");
    if (!xml) return xml;
    auto again = parse_response(*xml, self_check_limits());
    return checked(std::move(xml), again);
}

}  // namespace enclave::archive
