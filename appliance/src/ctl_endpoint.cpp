// SPDX-License-Identifier: Apache-2.0
// enclavectl endpoint add|list|show|remove (docs/delivery.md, "Endpoints").
#include <iomanip>
#include <iostream>

#include "appliance/ctl.hpp"
#include "ctl_input.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) { return field_text(j, key, 256, true); }

void print_endpoint(const json& e) {
    std::cout << text(e, "name") << "\n"
              << "  url:                " << text(e, "url") << "\n"
              << "  models:             " << text(e, "models") << "\n"
              << "  authentication:     " << text(e, "auth") << "\n"
              << "  binary url scheme:  " << text(e, "binary_url_scheme") << "\n"
              << "  server key pin:     " << text(e, "spki_sha256") << "\n"
              << "  sender:             " << text(e, "sender_country") << " / "
              << text(e, "sender_unique_id") << "\n"
              << "  receiver:           " << text(e, "receiver_country") << " / "
              << text(e, "receiver_unique_id") << "\n"
              << "  client certificate: " << text(e, "client_certificate") << "\n"
              << "  max connections:    " << text(e, "max_connections") << "\n"
              << "  created:            " << text(e, "created") << "\n";
    if (e.contains("client_subjects") && e["client_subjects"].is_array()) {
        for (const json& s : e["client_subjects"]) {
            if (s.is_string()) std::cout << "  LEA client:         " << printable(s.get<std::string>()) << "\n";
        }
    }
}

}  // namespace

int endpoint_add(const Globals& g, const EndpointAddOptions& o) {
    auto pem = detail::read_input(o.ca_file, 256 * 1024);
    if (!pem) return report_error(g, pem.error().wrap("--ca"));
    json body{{"name", o.name},
              {"url", o.url},
              {"trust_anchors", std::string(detail::text_of(*pem))},
              {"models", o.models},
              {"auth", o.auth}};
    if (!o.crl_file.empty()) {
        auto crl = detail::read_input(o.crl_file, 256 * 1024);
        if (!crl) return report_error(g, crl.error().wrap("--crl"));
        if (detail::text_of(*crl).find_first_not_of(" \t\r\n") == std::string_view::npos) {
            return report_error(g, "invalid_argument", "--crl " + o.crl_file + ": holds no CRL");
        }
        body["crl"] = std::string(detail::text_of(*crl));
    }
    auto put = [&body](const char* key, const std::string& v) {
        if (!v.empty()) body[key] = v;
    };
    put("spki_sha256", o.spki_sha256);
    put("binary_url_scheme", o.binary_url_scheme);
    put("sender_country", o.sender_country);
    put("sender_unique_id", o.sender_unique_id);
    put("receiver_country", o.receiver_country);
    put("receiver_unique_id", o.receiver_unique_id);
    put("client_certificate", o.client_certificate);
    put("client_key", o.client_key);
    if (!o.client_subjects.empty()) body["client_subjects"] = o.client_subjects;
    if (o.max_connections) body["max_connections"] = *o.max_connections;
    if (o.connect_timeout_ms) body["connect_timeout_ms"] = *o.connect_timeout_ms;
    if (o.response_timeout_ms) body["response_timeout_ms"] = *o.response_timeout_ms;
    json out;
    if (int rc = call(g, "POST", "/v1/endpoints", body.dump(), out); rc != kExitOk) return rc;
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "added ";
        print_endpoint(out);
    }
    return kExitOk;
}

int endpoint_list(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/endpoints", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << std::left << std::setw(20) << "NAME" << std::setw(8) << "MODELS" << "URL\n";
    for (const json& e : out.value("endpoints", json::array())) {
        const bool from_config = e.value("source", "") == "config";
        std::cout << std::setw(20) << text(e, "name") << std::setw(8)
                  << (from_config ? "-" : text(e, "models"))
                  << (from_config ? "(config file: client_subjects only)" : text(e, "url")) << "\n";
    }
    return kExitOk;
}

int endpoint_show(const Globals& g, const std::string& name) {
    json out;
    const std::string target = "/v1/endpoint?" + query({{"name", name}});
    if (int rc = call(g, "GET", target, {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        print_endpoint(out);
    }
    return kExitOk;
}

int endpoint_remove(const Globals& g, const std::string& name) {
    json out;
    const std::string target = "/v1/endpoint/remove?" + query({{"name", name}});
    if (int rc = call(g, "POST", target, {}, out); rc != kExitOk) return rc;
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "removed " << printable(name) << "\n";
    }
    return kExitOk;
}

}  // namespace enclave::appliance::ctl
